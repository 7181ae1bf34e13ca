"""follow-up: contacts, linkage, transfers, closures; the case's follow-up dates; partner users

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 17:25:46.303866

New tables ``followups``, ``linkages``, ``case_transfers`` and ``case_closures``; on ``family_units`` the
follow-up dates that ``followup.services.refresh_case`` keeps (due, first and last contact, transferred)
and ``protection_risk``; on ``users`` the partner's institution and the inbox's last visit, and the role
``partner``. Existing cases get their first contact's due date from the rule of ``followup.rules`` (15 days
after arrival, 3 with a protection-risk cause or an urgent referral sent), in Guatemala time.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# Written out, not imported: a migration keeps meaning what it meant when written.
CLOSURE_KINDS = ('close', 'reopen')
CLOSURE_REASONS = ('linked', 'not_located', 'remigrated', 'declined', 'deceased', 'other')
CONTACT_TYPES = ('phone', 'home_visit', 'office_visit', 'message', 'other')
CONTACT_OUTCOMES = ('located', 'not_located', 'moved', 'remigrated', 'declined', 'other')
ROLES_BEFORE = ('admin', 'coordinator', 'reception', 'sede')
ROLES = ROLES_BEFORE + ('partner',)
FIRST_CONTACT_DAYS, URGENT_FIRST_CONTACT_DAYS = 15, 3


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _backfill_due_dates():
    """protection_risk from the causes; the first contact's due date of every case not closed."""
    op.execute(
        "UPDATE family_units SET protection_risk = EXISTS "
        "(SELECT 1 FROM family_protection_causes c WHERE c.family_id = family_units.id)"
    )
    if op.get_bind().dialect.name == 'postgresql':
        arrival_day = "(a.arrived_at AT TIME ZONE 'America/Guatemala')::date"
        plus = lambda days: f"{arrival_day} + {days}"  # noqa: E731
    else:  # SQLite keeps UTC text; Guatemala is UTC-6 all year
        plus = lambda days: f"date(a.arrived_at, '-6 hours', '+{days} days')"  # noqa: E731
    urgent = (
        "family_units.protection_risk OR EXISTS (SELECT 1 FROM referrals r WHERE r.family_id = family_units.id "
        "AND r.priority = 'urgent' AND r.status NOT IN ('draft', 'cancelled', 'rejected'))"
    )
    op.execute(
        "UPDATE family_units SET followup_due_on = (SELECT CASE WHEN "
        f"{urgent} THEN {plus(URGENT_FIRST_CONTACT_DAYS)} ELSE {plus(FIRST_CONTACT_DAYS)} END "
        "FROM arrivals a WHERE a.id = family_units.arrival_id) WHERE status NOT IN ('linked', 'closed')"
    )


def upgrade():
    op.create_table('case_closures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('family_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind <> 'close' OR reason IS NOT NULL", name=op.f('ck_case_closures_close_has_reason')),
    sa.CheckConstraint(_in('kind', CLOSURE_KINDS), name=op.f('ck_case_closures_kind')),
    sa.CheckConstraint('reason IS NULL OR ' + _in('reason', CLOSURE_REASONS), name=op.f('ck_case_closures_reason')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_case_closures_created_by_id_users')),
    sa.ForeignKeyConstraint(['family_id'], ['family_units.id'], name=op.f('fk_case_closures_family_id_family_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_closures'))
    )
    with op.batch_alter_table('case_closures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_closures_family_id'), ['family_id'], unique=False)

    op.create_table('case_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('family_id', sa.Integer(), nullable=False),
    sa.Column('from_sede_id', sa.Integer(), nullable=True),
    sa.Column('to_sede_id', sa.Integer(), nullable=True),
    sa.Column('from_municipality_id', sa.Integer(), nullable=False),
    sa.Column('to_municipality_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_case_transfers_created_by_id_users')),
    sa.ForeignKeyConstraint(['family_id'], ['family_units.id'], name=op.f('fk_case_transfers_family_id_family_units'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_municipality_id'], ['municipalities.id'], name=op.f('fk_case_transfers_from_municipality_id_municipalities')),
    sa.ForeignKeyConstraint(['from_sede_id'], ['sedes.id'], name=op.f('fk_case_transfers_from_sede_id_sedes')),
    sa.ForeignKeyConstraint(['to_municipality_id'], ['municipalities.id'], name=op.f('fk_case_transfers_to_municipality_id_municipalities')),
    sa.ForeignKeyConstraint(['to_sede_id'], ['sedes.id'], name=op.f('fk_case_transfers_to_sede_id_sedes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_transfers'))
    )
    with op.batch_alter_table('case_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_transfers_family_id'), ['family_id'], unique=False)

    op.create_table('followups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('family_id', sa.Integer(), nullable=False),
    sa.Column('contacted_on', sa.Date(), nullable=False),
    sa.Column('contact_type', sa.String(length=20), nullable=False),
    sa.Column('contacted_person', sa.String(length=160), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('next_action', sa.String(length=300), nullable=True),
    sa.Column('next_action_on', sa.Date(), nullable=True),
    sa.Column('submission_token', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.CheckConstraint(_in('contact_type', CONTACT_TYPES), name=op.f('ck_followups_contact_type')),
    sa.CheckConstraint(_in('outcome', CONTACT_OUTCOMES), name=op.f('ck_followups_outcome')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_followups_created_by_id_users')),
    sa.ForeignKeyConstraint(['family_id'], ['family_units.id'], name=op.f('fk_followups_family_id_family_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_followups')),
    sa.UniqueConstraint('submission_token', name=op.f('uq_followups_submission_token'))
    )
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_followups_family_id'), ['family_id'], unique=False)

    op.create_table('linkages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('family_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('institution_id', sa.Integer(), nullable=True),
    sa.Column('outside_service', sa.String(length=200), nullable=True),
    sa.Column('linked_on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('referral_id', sa.Integer(), nullable=True),
    sa.Column('submission_token', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('institution_id IS NOT NULL OR outside_service IS NOT NULL', name=op.f('ck_linkages_says_where')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_linkages_created_by_id_users')),
    sa.ForeignKeyConstraint(['family_id'], ['family_units.id'], name=op.f('fk_linkages_family_id_family_units'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_linkages_institution_id_institutions')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_linkages_member_id_members'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_linkages_referral_id_referrals'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linkages')),
    sa.UniqueConstraint('submission_token', name=op.f('uq_linkages_submission_token'))
    )
    with op.batch_alter_table('linkages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_linkages_family_id'), ['family_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_linkages_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_linkages_member_id'), ['member_id'], unique=False)

    with op.batch_alter_table('family_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('followup_due_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('first_contact_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('last_contact_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('transferred_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('protection_risk', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_family_units_followup_due_on', ['followup_due_on'], unique=False)
        batch_op.create_index('ix_family_units_first_contact_on', ['first_contact_on'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('institution_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('inbox_seen_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_users_institution_id_institutions'), 'institutions', ['institution_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint(op.f('ck_users_role'), _in('role', ROLES))
        batch_op.create_check_constraint(
            op.f('ck_users_partner_has_institution'), "role <> 'partner' OR institution_id IS NOT NULL"
        )

    _backfill_due_dates()


def downgrade():
    op.execute("DELETE FROM users WHERE role = 'partner'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_partner_has_institution'), type_='check')
        batch_op.drop_constraint(op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint(op.f('ck_users_role'), _in('role', ROLES_BEFORE))
        batch_op.drop_constraint(batch_op.f('fk_users_institution_id_institutions'), type_='foreignkey')
        batch_op.drop_column('inbox_seen_at')
        batch_op.drop_column('institution_id')

    with op.batch_alter_table('family_units', schema=None) as batch_op:
        batch_op.drop_index('ix_family_units_first_contact_on')
        batch_op.drop_index('ix_family_units_followup_due_on')
        batch_op.drop_column('protection_risk')
        batch_op.drop_column('transferred_at')
        batch_op.drop_column('last_contact_on')
        batch_op.drop_column('first_contact_on')
        batch_op.drop_column('followup_due_on')

    with op.batch_alter_table('linkages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_linkages_member_id'))
        batch_op.drop_index(batch_op.f('ix_linkages_institution_id'))
        batch_op.drop_index(batch_op.f('ix_linkages_family_id'))

    op.drop_table('linkages')
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_followups_family_id'))

    op.drop_table('followups')
    with op.batch_alter_table('case_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_transfers_family_id'))

    op.drop_table('case_transfers')
    with op.batch_alter_table('case_closures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_closures_family_id'))

    op.drop_table('case_closures')
