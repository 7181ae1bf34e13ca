"""enum columns: one CHECK each, named after the column; members' needs and referrals RESTRICT deletion

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:00:00

Statuses, roles, modes, priorities and kinds are Python enums mapped to a VARCHAR(20) with a CHECK that
lists the values (db.py's type map), the same on SQLite and PostgreSQL. The values stored do not change.
The hand-written CHECKs are replaced by the ones the enums generate (same names where there was one);
the columns without one (case status, referral event states, centre mode, sequence kind) get theirs;
VARCHAR(1) and VARCHAR(10) columns grow to 20 (on PostgreSQL a catalogue change, no table rewrite).

``family_needs.member_id`` and ``referral_members.member_id`` now RESTRICT the deletion of a member
instead of cascading it (a member with needs or referrals stays on the case), and get the indexes those
look-ups and checks need. Deleting a whole family now means deleting its referrals and needs first:
PostgreSQL checks a member's RESTRICT before the cascade through ``referrals`` reaches ``referral_members``.

The value lists are written out here, not imported: a migration keeps meaning what it meant when written.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

CASE_STATUSES = ('received', 'referred', 'in_followup', 'linked', 'closed')
CONSENT_TYPES = ('written', 'verbal_witness', 'refused')
SEXES = ('F', 'M')
PREGNANCIES = ('pregnant', 'lactating')
TRANSPORT_MODES = ('air', 'land')
INSTITUTION_KINDS = ('sosep', 'government', 'ngo', 'international')
NEED_STATUSES = ('identified', 'attended', 'referred')
REFERRAL_STATUSES = ('draft', 'sent', 'accepted', 'rejected', 'attended', 'not_located', 'cancelled')
PRIORITIES = ('normal', 'urgent')
ROLES = ('admin', 'coordinator', 'reception', 'sede')
SEQUENCE_KINDS = ('case', 'referral')

#: (table, column, values, CHECK before this revision or None, length before this revision)
ENUM_COLUMNS = (
    ('arrivals', 'mode', TRANSPORT_MODES, "mode IN ('air', 'land')", 10),
    ('centres', 'mode', TRANSPORT_MODES, None, 10),
    ('family_units', 'status', CASE_STATUSES, None, 20),
    ('family_units', 'consent_type', CONSENT_TYPES, "consent_type IN ('written', 'verbal_witness', 'refused')", 20),
    ('members', 'sex', SEXES, "sex IN ('F', 'M')", 1),
    ('members', 'pregnancy', PREGNANCIES, "pregnancy IS NULL OR pregnancy IN ('pregnant', 'lactating')", 20),
    ('institutions', 'kind', INSTITUTION_KINDS, "kind IN ('sosep', 'government', 'ngo', 'international')", 20),
    ('family_needs', 'status', NEED_STATUSES, "status IN ('identified', 'attended', 'referred')", 20),
    (
        'referrals',
        'status',
        REFERRAL_STATUSES,
        "status IN ('draft', 'sent', 'accepted', 'rejected', 'attended', 'not_located', 'cancelled')",
        20,
    ),
    ('referrals', 'priority', PRIORITIES, "priority IN ('normal', 'urgent')", 10),
    ('referral_events', 'from_status', REFERRAL_STATUSES, None, 20),
    ('referral_events', 'to_status', REFERRAL_STATUSES, None, 20),
    ('users', 'role', ROLES, "role IN ('admin', 'coordinator', 'reception', 'sede')", 20),
    ('number_sequences', 'kind', SEQUENCE_KINDS, None, 20),
)

#: The member foreign keys that cascaded a member's deletion and now refuse it.
MEMBER_FKS = (
    ('family_needs', 'fk_family_needs_member_id_members', 'ix_family_needs_member_id'),
    ('referral_members', 'fk_referral_members_member_id_members', 'ix_referral_members_member_id'),
)

ENUM_LENGTH = 20


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _tables():
    return dict.fromkeys(table for table, *_ in ENUM_COLUMNS)


def upgrade():
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for t, column, values, old_check, old_length in ENUM_COLUMNS:
                if t != table:
                    continue
                name = op.f(f'ck_{table}_{column}')
                if old_check is not None:
                    batch_op.drop_constraint(name, type_='check')
                if old_length != ENUM_LENGTH:
                    batch_op.alter_column(
                        column,
                        existing_type=sa.String(length=old_length),
                        type_=sa.String(length=ENUM_LENGTH),
                    )
                batch_op.create_check_constraint(name, _in(column, values))

    for table, fk, index in MEMBER_FKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(fk), type_='foreignkey')
            batch_op.create_foreign_key(op.f(fk), 'members', ['member_id'], ['id'], ondelete='RESTRICT')
            batch_op.create_index(op.f(index), ['member_id'], unique=False)


def downgrade():
    for table, fk, index in MEMBER_FKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(op.f(index))
            batch_op.drop_constraint(op.f(fk), type_='foreignkey')
            batch_op.create_foreign_key(op.f(fk), 'members', ['member_id'], ['id'], ondelete='CASCADE')

    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for t, column, _values, old_check, old_length in ENUM_COLUMNS:
                if t != table:
                    continue
                name = op.f(f'ck_{table}_{column}')
                batch_op.drop_constraint(name, type_='check')
                if old_length != ENUM_LENGTH:
                    batch_op.alter_column(
                        column,
                        existing_type=sa.String(length=ENUM_LENGTH),
                        type_=sa.String(length=old_length),
                    )
                if old_check is not None:
                    batch_op.create_check_constraint(name, old_check)
