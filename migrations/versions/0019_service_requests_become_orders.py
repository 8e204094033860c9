"""service requests become one-line testing orders, their charges the charges of those lines

Each service request becomes an order numbered "<lab>-SR-<request id>" (legacy_request_id names
the request) with one line at the request's quote, state, due date and times, and as many
samples as the request had, each named after the sample description; accepted samples get the
numbers "<lab>-SR<request id>-<n>". The order's notes keep the sample description, the
requester's notes and the lab's decision note. The request's charge becomes the line's charge.
The service_requests table itself, with any uploaded report, stays as it was. Downgrading
removes the converted orders again and leaves the requests untouched.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 11:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

ACCEPTED = "('accepted', 'in_progress', 'completed')"
#: The states in which the lab had looked at the samples (and accepted or refused them).
DECIDED = "('accepted', 'in_progress', 'completed', 'rejected')"

ORDERS = f"""
INSERT INTO orders (number, lab_id, organization_id, requester_id, state, remains,
                    report_language, notes, contact_name, contact_phone, contact_email, tier,
                    quoted_total, terms, confirmed_at, legacy_request_id, created_at,
                    updated_at, received_at, cancelled_at)
SELECT labs.code || '-SR-' || sr.id, services.lab_id, sr.organization_id, sr.requester_id,
       CASE sr.state WHEN 'submitted' THEN 'submitted' WHEN 'accepted' THEN 'received'
                     WHEN 'in_progress' THEN 'received' WHEN 'completed' THEN 'completed'
                     WHEN 'rejected' THEN 'refused' ELSE 'cancelled' END,
       'dispose', 'zh_CN',
       sr.sample_description
         || CASE WHEN sr.notes <> '' THEN :gap || sr.notes ELSE '' END
         || CASE WHEN sr.decision_note <> '' THEN :gap || sr.decision_note ELSE '' END,
       users.name, '', users.email, sr.tier, sr.quoted_total, '', sr.created_at, sr.id,
       sr.created_at, sr.updated_at,
       CASE WHEN sr.state IN {ACCEPTED} THEN COALESCE(sr.decided_at, sr.created_at) END,
       sr.cancelled_at
FROM service_requests sr
JOIN testing_services services ON services.id = sr.service_id
JOIN labs ON labs.id = services.lab_id
JOIN users ON users.id = sr.requester_id
"""

LINES = """
INSERT INTO order_lines (order_id, position, service_id, method, is_express, state,
                         unit_price, express_surcharge_percent, express_surcharge, total,
                         due_date, started_at, completed_at)
SELECT orders.id, 1, sr.service_id, services.standard, sr.is_express,
       CASE sr.state WHEN 'submitted' THEN 'waiting' WHEN 'accepted' THEN 'received'
                     WHEN 'in_progress' THEN 'in_progress' WHEN 'completed' THEN 'completed'
                     WHEN 'rejected' THEN 'refused' ELSE 'cancelled' END,
       sr.quoted_unit_price, sr.express_surcharge_percent, sr.quoted_express_surcharge,
       sr.quoted_total, sr.due_date, sr.started_at, sr.completed_at
FROM service_requests sr
JOIN orders ON orders.legacy_request_id = sr.id
JOIN testing_services services ON services.id = sr.service_id
"""

SAMPLES = f"""
WITH RECURSIVE positions(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM positions WHERE n < 1000)
INSERT INTO samples (line_id, position, name, batch, specification, quantity, condition,
                     hazards, number, intake_status, intake_condition, intake_note,
                     received_at, received_by_id, disposition_note)
SELECT order_lines.id, positions.n, substr(sr.sample_description, 1, 200), '', '', '', '', '',
       CASE WHEN sr.state IN {ACCEPTED} THEN labs.code || '-SR' || sr.id || '-' || positions.n
       END,
       CASE WHEN sr.state IN {ACCEPTED} THEN 'accepted'
            WHEN sr.state = 'rejected' THEN 'refused' ELSE 'pending' END,
       '',
       CASE WHEN sr.state = 'rejected' THEN substr(sr.decision_note, 1, 500) ELSE '' END,
       CASE WHEN sr.state IN {DECIDED} THEN
            COALESCE(sr.decided_at, sr.created_at) END,
       CASE WHEN sr.state IN {DECIDED} THEN sr.decided_by_id END,
       ''
FROM service_requests sr
JOIN orders ON orders.legacy_request_id = sr.id
JOIN order_lines ON order_lines.order_id = orders.id
JOIN testing_services services ON services.id = sr.service_id
JOIN labs ON labs.id = services.lab_id
JOIN positions ON positions.n <= sr.samples
"""

CHARGES = """
UPDATE charges SET order_line_id = (
    SELECT order_lines.id FROM order_lines
    JOIN orders ON orders.id = order_lines.order_id
    WHERE orders.legacy_request_id = charges.service_request_id)
WHERE service_request_id IS NOT NULL
"""

CONVERTED_LINES = """
SELECT order_lines.id FROM order_lines JOIN orders ON orders.id = order_lines.order_id
WHERE orders.legacy_request_id IS NOT NULL
"""


def upgrade():
    connection = op.get_bind()
    connection.execute(sa.text(ORDERS), {"gap": "\n\n"})
    connection.execute(sa.text(LINES))
    connection.execute(sa.text(SAMPLES))
    connection.execute(sa.text(CHARGES))


def downgrade():
    connection = op.get_bind()
    connection.execute(sa.text(f"UPDATE charges SET order_line_id = NULL "
                               f"WHERE order_line_id IN ({CONVERTED_LINES})"))
    connection.execute(sa.text(f"DELETE FROM samples WHERE line_id IN ({CONVERTED_LINES})"))
    connection.execute(sa.text(
        "DELETE FROM order_lines WHERE order_id IN "
        "(SELECT id FROM orders WHERE legacy_request_id IS NOT NULL)"))
    connection.execute(sa.text("DELETE FROM orders WHERE legacy_request_id IS NOT NULL"))
