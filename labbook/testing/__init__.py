"""Testing-service requests: a researcher asks a lab to test samples, the lab does it."""
