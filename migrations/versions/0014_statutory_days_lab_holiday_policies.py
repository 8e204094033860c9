"""statutory holidays and make-up working days, and each lab's choice to follow them

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'statutory_days',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('kind', sa.Enum('holiday', 'makeup_workday', name='statutory_day_kind',
                                  native_enum=False, create_constraint=True, length=14),
                  nullable=False),
        sa.Column('festival', sa.Enum('new_year', 'spring_festival', 'tomb_sweeping',
                                      'labour_day', 'dragon_boat', 'mid_autumn', 'national_day',
                                      'other', name='statutory_festival', native_enum=False,
                                      create_constraint=True, length=15),
                  nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_statutory_days')),
        sa.UniqueConstraint('day', name=op.f('uq_statutory_days_day')),
    )
    op.create_table(
        'lab_holiday_policies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lab_id', sa.Integer(), nullable=False),
        sa.Column('closes_on_holidays', sa.Boolean(), nullable=False),
        sa.Column('opens_on_makeup_days', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['lab_id'], ['labs.id'],
                                name=op.f('fk_lab_holiday_policies_lab_id_labs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_holiday_policies')),
        sa.UniqueConstraint('lab_id', name=op.f('uq_lab_holiday_policies_lab_id')),
    )


def downgrade():
    op.drop_table('lab_holiday_policies')
    op.drop_table('statutory_days')
