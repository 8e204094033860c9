"""money: payments, balances and prepaid deposits, innovation vouchers, invoices, and what a
statement's lines and totals owe to vouchers and payments

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('billing_profiles',
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('invoice_title', sa.String(length=200), nullable=False),
    sa.Column('taxpayer_id', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('bank', sa.String(length=100), nullable=False),
    sa.Column('bank_account', sa.String(length=40), nullable=False),
    sa.Column('prepaid', sa.Boolean(), nullable=False),
    sa.Column('overdue_block_days', sa.Integer(), nullable=True),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('balance >= 0', name=op.f('ck_billing_profiles_balance_not_negative')),
    sa.CheckConstraint('overdue_block_days >= 0', name=op.f('ck_billing_profiles_overdue_block_days_not_negative')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_billing_profiles_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('organization_id', name=op.f('pk_billing_profiles'))
    )
    op.create_table('invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('ordinary', 'special', name='invoice_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('medium', sa.Enum('electronic', 'paper', name='invoice_medium', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('state', sa.Enum('requested', 'issued', 'refused', 'reversed', name='invoice_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('taxpayer_id', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('bank', sa.String(length=100), nullable=False),
    sa.Column('bank_account', sa.String(length=40), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('invoice_number', sa.String(length=30), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('issued_amount', sa.BigInteger(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refusal_reason', sa.String(length=500), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('file_type', sa.String(length=100), nullable=False),
    sa.Column('file_content', sa.LargeBinary(), nullable=True),
    sa.CheckConstraint('amount > 0', name=op.f('ck_invoices_amount_positive')),
    sa.CheckConstraint('issued_amount IS NULL OR (issued_amount > 0 AND issued_amount <= amount)', name=op.f('ck_invoices_issued_within_amount')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_invoices_decided_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_invoices_organization_id_organizations')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_invoices_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('invoice_number', name=op.f('uq_invoices_invoice_number'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_organization_id'), ['organization_id'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('method', sa.Enum('bank_transfer', 'wechat_pay', 'alipay', 'cash', 'voucher', name='payment_method', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('credited', sa.BigInteger(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payments_amount_positive')),
    sa.CheckConstraint('credited >= 0', name=op.f('ck_payments_credited_not_negative')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_payments_organization_id_organizations')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_payments_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_organization_id'), ['organization_id'], unique=False)

    op.create_table('vouchers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=50), nullable=False),
    sa.Column('authority', sa.String(length=200), nullable=False),
    sa.Column('face_value', sa.BigInteger(), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('share_percent', sa.Integer(), nullable=False),
    sa.Column('lab_ids', sa.JSON(), nullable=False),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('balance >= 0 AND balance <= face_value', name=op.f('ck_vouchers_balance_within_face')),
    sa.CheckConstraint('face_value > 0', name=op.f('ck_vouchers_face_value_positive')),
    sa.CheckConstraint('share_percent BETWEEN 1 AND 100', name=op.f('ck_vouchers_share_percent_range')),
    sa.CheckConstraint('valid_to >= valid_from', name=op.f('ck_vouchers_valid_period')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_vouchers_created_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_vouchers_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vouchers')),
    sa.UniqueConstraint('number', name=op.f('uq_vouchers_number'))
    )
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vouchers_organization_id'), ['organization_id'], unique=False)

    op.create_table('balance_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('deposit', 'overpayment', 'credit_note', 'applied', name='balance_entry_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_balance_entries_created_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_balance_entries_organization_id_organizations')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_balance_entries_payment_id_payments')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_balance_entries_statement_id_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_balance_entries'))
    )
    with op.batch_alter_table('balance_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_balance_entries_organization_id'), ['organization_id'], unique=False)

    op.create_table('invoice_statements',
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_invoice_statements_amount_positive')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_statements_invoice_id_invoices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_invoice_statements_statement_id_statements')),
    sa.PrimaryKeyConstraint('invoice_id', 'statement_id', name=op.f('pk_invoice_statements'))
    )
    with op.batch_alter_table('invoice_statements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_statements_statement_id'), ['statement_id'], unique=False)

    op.create_table('payment_allocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.Enum('payment', 'balance', name='allocation_source', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payment_allocations_amount_positive')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_allocations_payment_id_payments')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_payment_allocations_statement_id_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_allocations'))
    )
    with op.batch_alter_table('payment_allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_allocations_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_allocations_statement_id'), ['statement_id'], unique=False)

    op.create_table('invoice_reversals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('red_number', sa.String(length=30), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('correction_charge_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['correction_charge_id'], ['charges.id'], name=op.f('fk_invoice_reversals_correction_charge_id_charges')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_invoice_reversals_created_by_id_users')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_reversals_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_reversals')),
    sa.UniqueConstraint('invoice_id', name=op.f('uq_invoice_reversals_invoice_id')),
    sa.UniqueConstraint('red_number', name=op.f('uq_invoice_reversals_red_number'))
    )
    op.create_table('voucher_uses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('voucher_id', sa.Integer(), nullable=False),
    sa.Column('charge_id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['charge_id'], ['charges.id'], name=op.f('fk_voucher_uses_charge_id_charges')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_voucher_uses_statement_id_statements')),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_voucher_uses_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_uses')),
    sa.UniqueConstraint('voucher_id', 'charge_id', name=op.f('uq_voucher_uses_voucher_id_charge_id'))
    )
    with op.batch_alter_table('voucher_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_uses_charge_id'), ['charge_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_uses_statement_id'), ['statement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_uses_voucher_id'), ['voucher_id'], unique=False)

    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voucher_amount', sa.BigInteger(), server_default='0', nullable=False))

    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voucher_amount', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('paid_amount', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('verification_code', sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_statements_verification_code'), ['verification_code'])
        batch_op.create_check_constraint(op.f('ck_statements_paid_amount_not_negative'), 'paid_amount >= 0')



def downgrade():
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_statements_paid_amount_not_negative'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_statements_verification_code'), type_='unique')
        batch_op.drop_column('verification_code')
        batch_op.drop_column('paid_amount')
        batch_op.drop_column('voucher_amount')

    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_column('voucher_amount')

    with op.batch_alter_table('voucher_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_uses_voucher_id'))
        batch_op.drop_index(batch_op.f('ix_voucher_uses_statement_id'))
        batch_op.drop_index(batch_op.f('ix_voucher_uses_charge_id'))

    op.drop_table('voucher_uses')
    op.drop_table('invoice_reversals')
    with op.batch_alter_table('payment_allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_allocations_statement_id'))
        batch_op.drop_index(batch_op.f('ix_payment_allocations_payment_id'))

    op.drop_table('payment_allocations')
    with op.batch_alter_table('invoice_statements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_statements_statement_id'))

    op.drop_table('invoice_statements')
    with op.batch_alter_table('balance_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_balance_entries_organization_id'))

    op.drop_table('balance_entries')
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vouchers_organization_id'))

    op.drop_table('vouchers')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_organization_id'))

    op.drop_table('payments')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_organization_id'))

    op.drop_table('invoices')
    op.drop_table('billing_profiles')
