"""enterprises: registrations, organization admins, invitations and requests to join

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'registrations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('state', sa.Enum('unconfirmed', 'pending', 'approved', 'rejected',
                                   name='registration_state', native_enum=False,
                                   create_constraint=True, length=11), nullable=False),
        sa.Column('organization_name', sa.String(length=200), nullable=False),
        sa.Column('uscc', sa.String(length=18), nullable=False),
        sa.Column('address', sa.String(length=300), nullable=False),
        sa.Column('contact_phone', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('locale', sa.String(length=8), nullable=False),
        sa.Column('password_hash', sa.String(length=256), nullable=False),
        sa.Column('licence', sa.LargeBinary(), nullable=True),
        sa.Column('licence_type', sa.String(length=40), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'],
                                name=op.f('fk_registrations_decided_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_registrations_organization_id_organizations'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_registrations')),
    )
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registrations_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_registrations_uscc'), ['uscc'], unique=False)
        batch_op.create_index(batch_op.f('ix_registrations_email'), ['email'], unique=False)
        batch_op.create_index('uq_registrations_pending_uscc', ['uscc'], unique=True,
                              sqlite_where=sa.text("state = 'pending'"),
                              postgresql_where=sa.text("state = 'pending'"))

    op.create_table(
        'organization_admins',
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_organization_admins_organization_id_organizations'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_organization_admins_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('organization_id', 'user_id',
                                name=op.f('pk_organization_admins')),
    )
    with op.batch_alter_table('organization_admins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organization_admins_user_id'), ['user_id'],
                              unique=False)

    op.create_table(
        'invitations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('invited_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_invitations_organization_id_organizations'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'],
                                name=op.f('fk_invitations_invited_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_invitations_user_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
        sa.UniqueConstraint('secret_hash', name=op.f('uq_invitations_secret_hash')),
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_organization_id'), ['organization_id'],
                              unique=False)

    op.create_table(
        'join_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.Enum('unconfirmed', 'pending', 'accepted', 'declined',
                                   name='join_request_state', native_enum=False,
                                   create_constraint=True, length=11), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('phone', sa.String(length=32), nullable=False),
        sa.Column('locale', sa.String(length=8), nullable=False),
        sa.Column('password_hash', sa.String(length=256), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_join_requests_organization_id_organizations'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'],
                                name=op.f('fk_join_requests_decided_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_join_requests_user_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_join_requests')),
    )
    with op.batch_alter_table('join_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_join_requests_organization_id'),
                              ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_join_requests_email'), ['email'], unique=False)


def downgrade():
    op.drop_table('join_requests')
    op.drop_table('invitations')
    op.drop_table('organization_admins')
    op.drop_table('registrations')
