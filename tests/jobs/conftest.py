import os

from tests.notify.conftest import mail_dir, smtp

__all__ = ["job_process_env", "mail_dir", "smtp"]


def job_process_env(database_url: str, smtp_url: str, mail_dir: str) -> dict[str, str]:
    """The environment of a ``flask labbook …`` job process on the test database: this one's,
    without any LABBOOK_ setting of the machine running the tests."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LABBOOK_")}
    env.update({"LABBOOK_DATABASE_URL": database_url, "LABBOOK_SMTP_URL": smtp_url,
                "SECRET_KEY": "scheduler-test-secret-key-0123456789abcdef",
                "LABBOOK_MAIL_DIR": mail_dir})
    return env
