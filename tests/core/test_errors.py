"""What a domain error tells the person it refuses."""

from labbook.core.errors import Conflict, Problem, ValidationError


def test_an_error_tells_each_of_its_problems_once_in_order():
    refused = Conflict("Taken.", problems=[
        Problem("overlap", "Taken."), Problem("not_qualified", "No training."),
        Problem("overlap", "Taken.")])
    assert refused.messages == ["Taken.", "No training."]


def test_an_error_without_problems_tells_its_own_message():
    assert ValidationError("Give a note.").messages == ["Give a note."]
