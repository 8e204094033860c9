"""Import every model module so that the metadata (and Alembic) sees all tables."""

from labbook.accounts import models as accounts_models
from labbook.audit import models as audit_models
from labbook.billing import models as billing_models
from labbook.booking import models as booking_models
from labbook.calendars import models as calendars_models
from labbook.catalogue import models as catalogue_models
from labbook.enterprises import models as enterprises_models
from labbook.faults import models as faults_models
from labbook.holidays import models as holidays_models
from labbook.jobs import models as jobs_models
from labbook.notify import models as notify_models
from labbook.orders import models as orders_models
from labbook.owners import models as owners_models
from labbook.privacy import models as privacy_models
from labbook.testing import models as testing_models
from labbook.training import models as training_models

__all__ = ["accounts_models", "audit_models", "billing_models", "booking_models",
           "calendars_models", "catalogue_models", "enterprises_models", "faults_models",
           "holidays_models", "jobs_models", "notify_models", "orders_models", "owners_models",
           "privacy_models", "testing_models", "training_models"]
