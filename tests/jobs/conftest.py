from tests.notify.conftest import mail_dir, smtp

__all__ = ["mail_dir", "smtp"]
