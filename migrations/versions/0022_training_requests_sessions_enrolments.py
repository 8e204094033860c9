"""training: requests, sessions with their places, enrolments with attendance and exam

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'training_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('state', sa.Enum('open', 'scheduled', 'declined', 'withdrawn',
                                   name='training_request_state', native_enum=False,
                                   create_constraint=True, length=9), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'],
                                name=op.f('fk_training_requests_decided_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'],
                                name=op.f('fk_training_requests_instrument_id_instruments'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_training_requests_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_training_requests')),
    )
    with op.batch_alter_table('training_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_requests_instrument_id'),
                              ['instrument_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_requests_user_id'), ['user_id'],
                              unique=False)
        batch_op.create_index('uq_training_requests_open', ['user_id', 'instrument_id'],
                              unique=True, sqlite_where=sa.text("state = 'open'"),
                              postgresql_where=sa.text("state = 'open'"))
    op.create_table(
        'training_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('trainer_id', sa.Integer(), nullable=False),
        sa.Column('capacity', sa.Integer(), nullable=False),
        sa.Column('enrolled', sa.Integer(), nullable=False),
        sa.Column('location', sa.String(length=200), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('valid_days', sa.Integer(), nullable=True),
        sa.Column('state', sa.Enum('scheduled', 'cancelled', name='training_session_state',
                                   native_enum=False, create_constraint=True, length=9),
                  nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('capacity BETWEEN 1 AND 200',
                           name=op.f('ck_training_sessions_capacity_range')),
        sa.CheckConstraint('ends_at > starts_at',
                           name=op.f('ck_training_sessions_ends_after_start')),
        sa.CheckConstraint('enrolled BETWEEN 0 AND capacity',
                           name=op.f('ck_training_sessions_enrolled_within_capacity')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_training_sessions_created_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'],
                                name=op.f('fk_training_sessions_instrument_id_instruments'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['trainer_id'], ['users.id'],
                                name=op.f('fk_training_sessions_trainer_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_training_sessions')),
    )
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_training_sessions_instrument_starts',
                              ['instrument_id', 'starts_at'], unique=False)
    op.create_table(
        'training_enrolments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.Enum('enrolled', 'attended', 'absent', 'cancelled',
                                   name='training_enrolment_state', native_enum=False,
                                   create_constraint=True, length=9), nullable=False),
        sa.Column('exam_result', sa.Enum('passed', 'failed', name='training_exam_result',
                                         native_enum=False, create_constraint=True, length=6),
                  nullable=True),
        sa.Column('qualification_id', sa.Integer(), nullable=True),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['qualification_id'], ['qualifications.id'],
                                name=op.f('fk_training_enrolments_qualification_id_qualifications'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'],
                                name=op.f('fk_training_enrolments_recorded_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'],
                                name=op.f('fk_training_enrolments_session_id_training_sessions'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_training_enrolments_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_training_enrolments')),
        sa.UniqueConstraint('session_id', 'user_id',
                            name=op.f('uq_training_enrolments_session_id_user_id')),
    )
    with op.batch_alter_table('training_enrolments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_enrolments_user_id'), ['user_id'],
                              unique=False)


def downgrade():
    op.drop_table('training_enrolments')
    op.drop_table('training_sessions')
    op.drop_table('training_requests')
