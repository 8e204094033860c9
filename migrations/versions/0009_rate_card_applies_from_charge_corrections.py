"""rate cards apply from a moment; adjustments that correct a charge on an issued statement

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00.000000

"""
import datetime as dt
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

LAB_TZ = ZoneInfo('Asia/Shanghai')


def upgrade():
    with op.batch_alter_table('rate_cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applies_from', sa.DateTime(timezone=True), nullable=True))

    # A card made before this revision applies from the start of its first day (lab time).
    connection = op.get_bind()
    rate_cards = sa.table('rate_cards', sa.column('id', sa.Integer()),
                          sa.column('effective_from', sa.Date()),
                          sa.column('applies_from', sa.DateTime(timezone=True)))
    for card_id, day in connection.execute(sa.select(rate_cards.c.id,
                                                     rate_cards.c.effective_from)).all():
        start = dt.datetime.combine(day, dt.time(), tzinfo=LAB_TZ).astimezone(dt.timezone.utc)
        if connection.dialect.name == 'sqlite':
            start = start.replace(tzinfo=None)  # stored as naive UTC there
        connection.execute(rate_cards.update().where(rate_cards.c.id == card_id)
                           .values(applies_from=start))

    with op.batch_alter_table('rate_cards', schema=None) as batch_op:
        batch_op.alter_column('applies_from', existing_type=sa.DateTime(timezone=True),
                              nullable=False)

    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('corrects_charge_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_charges_corrects_charge_id'), ['corrects_charge_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_charges_corrects_charge_id_charges'), 'charges', ['corrects_charge_id'], ['id'])


def downgrade():
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_charges_corrects_charge_id_charges'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_charges_corrects_charge_id'))
        batch_op.drop_column('corrects_charge_id')

    with op.batch_alter_table('rate_cards', schema=None) as batch_op:
        batch_op.drop_column('applies_from')
