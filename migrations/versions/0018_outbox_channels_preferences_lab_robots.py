"""notify: a channel per outbox message, people's channels per topic, labs' WeCom group robots

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 11:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def _channel(name):
    return sa.Enum('email', 'wecom', 'sms', name=name, native_enum=False,
                   create_constraint=True, length=5)


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', _channel('outbox_channel'),
                                      server_default='email', nullable=False))
        batch_op.create_index('ix_outbox_messages_channel_state_next_attempt_at',
                              ['channel', 'state', 'next_attempt_at'], unique=False)

    op.create_table(
        'notification_preferences',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('topic', sa.Enum('bookings', 'test_requests', 'approvals', 'billing',
                                   name='notification_topic', native_enum=False,
                                   create_constraint=True, length=13), nullable=False),
        sa.Column('channel', _channel('notification_channel'), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_notification_preferences_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'topic', 'channel',
                                name=op.f('pk_notification_preferences')),
    )
    op.create_table(
        'lab_robots',
        sa.Column('lab_id', sa.Integer(), nullable=False),
        sa.Column('webhook_url', sa.String(length=254), nullable=False),
        sa.Column('posts_approvals', sa.Boolean(), nullable=False),
        sa.Column('posts_orders', sa.Boolean(), nullable=False),
        sa.Column('posts_faults', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['lab_id'], ['labs.id'], name=op.f('fk_lab_robots_lab_id_labs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('lab_id', name=op.f('pk_lab_robots')),
    )


def downgrade():
    op.drop_table('lab_robots')
    op.drop_table('notification_preferences')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_channel_state_next_attempt_at')
        batch_op.drop_column('channel')
