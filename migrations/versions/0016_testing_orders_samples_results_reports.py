"""testing orders: lines, samples, intake numbers, results, attachments, reports, staff
capabilities and lab settings; bookings and charges of an order line

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 10:49:22.718844

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('number_counters',
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'year', name=op.f('pk_number_counters'))
    )
    op.create_table('lab_testing_settings',
    sa.Column('lab_id', sa.Integer(), nullable=False),
    sa.Column('terms_zh', sa.Text(), nullable=False),
    sa.Column('terms_en', sa.Text(), nullable=False),
    sa.Column('address_zh', sa.String(length=300), nullable=False),
    sa.Column('address_en', sa.String(length=300), nullable=False),
    sa.Column('phone', sa.String(length=64), nullable=False),
    sa.Column('accreditation_marks', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['lab_id'], ['labs.id'], name=op.f('fk_lab_testing_settings_lab_id_labs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('lab_id', name=op.f('pk_lab_testing_settings'))
    )
    op.create_table('lab_staff_capabilities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lab_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('capability', sa.Enum('analyst', 'reviewer', 'signatory', name='capability', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('granted_by_id', sa.Integer(), nullable=True),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['granted_by_id'], ['users.id'], name=op.f('fk_lab_staff_capabilities_granted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lab_id'], ['labs.id'], name=op.f('fk_lab_staff_capabilities_lab_id_labs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_lab_staff_capabilities_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_staff_capabilities')),
    sa.UniqueConstraint('lab_id', 'user_id', 'capability', name=op.f('uq_lab_staff_capabilities_lab_id_user_id_capability'))
    )
    with op.batch_alter_table('lab_staff_capabilities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lab_staff_capabilities_lab_id'), ['lab_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lab_staff_capabilities_user_id'), ['user_id'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('lab_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('submitted', 'received', 'completed', 'refused', 'cancelled', name='order_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('remains', sa.Enum('return', 'dispose', name='order_remains', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('report_language', sa.Enum('zh_CN', 'en', name='order_report_language', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('contact_name', sa.String(length=200), nullable=False),
    sa.Column('contact_phone', sa.String(length=64), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('tier', sa.Enum('internal', 'partner', 'external', name='order_tier', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('quoted_total', sa.BigInteger(), nullable=False),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('legacy_request_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lab_id'], ['labs.id'], name=op.f('fk_orders_lab_id_labs')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_orders_organization_id_organizations')),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_orders_requester_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('legacy_request_id', name=op.f('uq_orders_legacy_request_id')),
    sa.UniqueConstraint('number', name=op.f('uq_orders_number'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_lab_state', ['lab_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_requester_id'), ['requester_id'], unique=False)

    op.create_table('service_methods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['testing_services.id'], name=op.f('fk_service_methods_service_id_testing_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_methods')),
    sa.UniqueConstraint('service_id', 'method', name=op.f('uq_service_methods_service_id_method'))
    )
    with op.batch_alter_table('service_methods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_methods_service_id'), ['service_id'], unique=False)

    op.create_table('service_test_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=50), nullable=False),
    sa.Column('lower_limit', sa.String(length=40), nullable=True),
    sa.Column('upper_limit', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['service_id'], ['testing_services.id'], name=op.f('fk_service_test_items_service_id_testing_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_test_items')),
    sa.UniqueConstraint('service_id', 'name_zh', name=op.f('uq_service_test_items_service_id_name_zh'))
    )
    with op.batch_alter_table('service_test_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_test_items_service_id'), ['service_id'], unique=False)

    op.create_table('service_test_settings',
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=False),
    sa.CheckConstraint('retention_days BETWEEN 0 AND 3650', name=op.f('ck_service_test_settings_retention_days_range')),
    sa.ForeignKeyConstraint(['service_id'], ['testing_services.id'], name=op.f('fk_service_test_settings_service_id_testing_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('service_id', name=op.f('pk_service_test_settings'))
    )
    op.create_table('order_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=200), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_attachments_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_order_attachments_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_attachments')),
    sa.UniqueConstraint('path', name=op.f('uq_order_attachments_path'))
    )
    with op.batch_alter_table('order_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_attachments_order_id'), ['order_id'], unique=False)

    op.create_table('order_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=200), nullable=False),
    sa.Column('is_express', sa.Boolean(), nullable=False),
    sa.Column('state', sa.Enum('waiting', 'received', 'in_progress', 'completed', 'refused', 'cancelled', name='order_line_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('express_surcharge_percent', sa.Integer(), nullable=False),
    sa.Column('express_surcharge', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('analyst_id', sa.Integer(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['analyst_id'], ['users.id'], name=op.f('fk_order_lines_analyst_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['testing_services.id'], name=op.f('fk_order_lines_service_id_testing_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines')),
    sa.UniqueConstraint('order_id', 'position', name=op.f('uq_order_lines_order_id_position'))
    )
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_lines_analyst_id'), ['analyst_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_lines_service_id'), ['service_id'], unique=False)
        batch_op.create_index('ix_order_lines_state_due', ['state', 'due_date'], unique=False)

    op.create_table('test_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.Enum('prepared', 'reviewed', 'issued', 'superseded', 'withdrawn', name='report_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('language', sa.Enum('zh_CN', 'en', name='report_language', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('conclusion', sa.Text(), nullable=False),
    sa.Column('amendment_reason', sa.Text(), nullable=False),
    sa.Column('verification_code', sa.String(length=32), nullable=False),
    sa.Column('prepared_by_id', sa.Integer(), nullable=False),
    sa.Column('prepared_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('pdf_path', sa.String(length=200), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawal_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_test_reports_approved_by_id_users')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_test_reports_order_id_orders')),
    sa.ForeignKeyConstraint(['prepared_by_id'], ['users.id'], name=op.f('fk_test_reports_prepared_by_id_users')),
    sa.ForeignKeyConstraint(['replaces_id'], ['test_reports.id'], name=op.f('fk_test_reports_replaces_id_test_reports')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_test_reports_reviewed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_test_reports')),
    sa.UniqueConstraint('number', name=op.f('uq_test_reports_number')),
    sa.UniqueConstraint('replaces_id', name=op.f('uq_test_reports_replaces_id')),
    sa.UniqueConstraint('verification_code', name=op.f('uq_test_reports_verification_code'))
    )
    with op.batch_alter_table('test_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_test_reports_order_id'), ['order_id'], unique=False)

    op.create_table('samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('batch', sa.String(length=100), nullable=False),
    sa.Column('specification', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.String(length=100), nullable=False),
    sa.Column('condition', sa.String(length=300), nullable=False),
    sa.Column('hazards', sa.String(length=300), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=True),
    sa.Column('intake_status', sa.Enum('pending', 'accepted', 'accepted_with_remark', 'refused', name='sample_intake_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('intake_condition', sa.String(length=300), nullable=False),
    sa.Column('intake_note', sa.String(length=500), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('retain_until', sa.Date(), nullable=True),
    sa.Column('disposition', sa.Enum('returned', 'disposed', name='sample_disposition', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('disposed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disposed_by_id', sa.Integer(), nullable=True),
    sa.Column('disposition_note', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['disposed_by_id'], ['users.id'], name=op.f('fk_samples_disposed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['line_id'], ['order_lines.id'], name=op.f('fk_samples_line_id_order_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['received_by_id'], ['users.id'], name=op.f('fk_samples_received_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_samples')),
    sa.UniqueConstraint('line_id', 'position', name=op.f('uq_samples_line_id_position')),
    sa.UniqueConstraint('number', name=op.f('uq_samples_number'))
    )
    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_samples_line_id'), ['line_id'], unique=False)
        batch_op.create_index('ix_samples_retain_until', ['disposition', 'retain_until'], unique=False)

    op.create_table('results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=200), nullable=False),
    sa.Column('value', sa.String(length=100), nullable=False),
    sa.Column('unit', sa.String(length=50), nullable=False),
    sa.Column('method', sa.String(length=200), nullable=False),
    sa.Column('limit', sa.String(length=100), nullable=False),
    sa.Column('conclusion', sa.Enum('pass', 'fail', 'not_judged', name='result_conclusion', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_results_entered_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_results_sample_id_samples'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_results')),
    sa.UniqueConstraint('sample_id', 'item', name=op.f('uq_results_sample_id_item'))
    )
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_results_sample_id'), ['sample_id'], unique=False)

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_line_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_bookings_order_line_id'), ['order_line_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_bookings_order_line_id_order_lines'), 'order_lines', ['order_line_id'], ['id'])

    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_line_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_charges_order_line_id'), ['order_line_id'])
        batch_op.create_foreign_key(batch_op.f('fk_charges_order_line_id_order_lines'), 'order_lines', ['order_line_id'], ['id'])



def downgrade():
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_charges_order_line_id_order_lines'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_charges_order_line_id'), type_='unique')
        batch_op.drop_column('order_line_id')

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_bookings_order_line_id_order_lines'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_bookings_order_line_id'))
        batch_op.drop_column('order_line_id')

    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_results_sample_id'))

    op.drop_table('results')
    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.drop_index('ix_samples_retain_until')
        batch_op.drop_index(batch_op.f('ix_samples_line_id'))

    op.drop_table('samples')
    with op.batch_alter_table('test_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_test_reports_order_id'))

    op.drop_table('test_reports')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_order_lines_state_due')
        batch_op.drop_index(batch_op.f('ix_order_lines_service_id'))
        batch_op.drop_index(batch_op.f('ix_order_lines_analyst_id'))

    op.drop_table('order_lines')
    with op.batch_alter_table('order_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_attachments_order_id'))

    op.drop_table('order_attachments')
    op.drop_table('service_test_settings')
    with op.batch_alter_table('service_test_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_test_items_service_id'))

    op.drop_table('service_test_items')
    with op.batch_alter_table('service_methods', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_methods_service_id'))

    op.drop_table('service_methods')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_requester_id'))
        batch_op.drop_index(batch_op.f('ix_orders_organization_id'))
        batch_op.drop_index('ix_orders_lab_state')

    op.drop_table('orders')
    with op.batch_alter_table('lab_staff_capabilities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lab_staff_capabilities_user_id'))
        batch_op.drop_index(batch_op.f('ix_lab_staff_capabilities_lab_id'))

    op.drop_table('lab_staff_capabilities')
    op.drop_table('lab_testing_settings')
    op.drop_table('number_counters')
