"""passenger lists: pre-registered family units

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 09:00:00

An arrival's passenger list (issue #11, item 4) pre-registers its family groups before they reach the desk.
``family_units.status`` gets the value ``preregistered`` (its CHECK replaced, as 0006 did for the roles);
``consent_type`` may be null while a family is pre-registered, and only then (``ck_family_units_consent_known``:
consent is asked at the desk); ``passenger_group`` keeps the list's family reference, unique per arrival, so
a list uploaded again creates no family twice. New table ``passenger_lists``: each upload, kept between
its preview and its confirmation, with the file's SHA-256.

Downgrading deletes the families still pre-registered (the earlier schema cannot hold them).
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# Written out, not imported: a migration keeps meaning what it meant when written.
CASE_STATUSES_BEFORE = ('received', 'referred', 'in_followup', 'linked', 'closed')
CASE_STATUSES = ('preregistered',) + CASE_STATUSES_BEFORE


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    with op.batch_alter_table('family_units', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_family_units_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_family_units_status'), _in('status', CASE_STATUSES))
        batch_op.alter_column('consent_type', existing_type=sa.String(length=20), nullable=True)
        batch_op.create_check_constraint(
            op.f('ck_family_units_consent_known'), "consent_type IS NOT NULL OR status = 'preregistered'"
        )
        batch_op.add_column(sa.Column('passenger_group', sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint(
            'uq_family_units_passenger_group', ['arrival_id', 'passenger_group']
        )

    op.create_table(
        'passenger_lists',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('arrival_id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('content_sha256', sa.String(length=64), nullable=False),
        sa.Column('confirmed_sha256', sa.String(length=64), nullable=True),
        sa.Column('file_name', sa.String(length=200), nullable=False),
        sa.Column('rows', sa.JSON(), nullable=True),
        sa.Column('row_count', sa.Integer(), nullable=False),
        sa.Column('families_created', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['arrival_id'], ['arrivals.id'], name=op.f('fk_passenger_lists_arrival_id_arrivals'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_passenger_lists_created_by_id_users')),
        sa.ForeignKeyConstraint(
            ['confirmed_by_id'], ['users.id'], name=op.f('fk_passenger_lists_confirmed_by_id_users')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_passenger_lists')),
        sa.UniqueConstraint('token', name=op.f('uq_passenger_lists_token')),
        sa.UniqueConstraint('arrival_id', 'confirmed_sha256', name='uq_passenger_lists_confirmed_file'),
    )
    op.create_index(op.f('ix_passenger_lists_arrival_id'), 'passenger_lists', ['arrival_id'], unique=False)
    op.create_index(
        op.f('ix_passenger_lists_content_sha256'), 'passenger_lists', ['content_sha256'], unique=False
    )


def downgrade():
    op.drop_index(op.f('ix_passenger_lists_content_sha256'), table_name='passenger_lists')
    op.drop_index(op.f('ix_passenger_lists_arrival_id'), table_name='passenger_lists')
    op.drop_table('passenger_lists')

    preregistered = "SELECT id FROM family_units WHERE status = 'preregistered'"
    op.execute(
        "DELETE FROM member_languages WHERE member_id IN "
        f"(SELECT id FROM members WHERE family_id IN ({preregistered}))"
    )
    for table in ('members', 'family_migration_reasons', 'family_protection_causes'):
        op.execute(f"DELETE FROM {table} WHERE family_id IN ({preregistered})")
    op.execute(f"DELETE FROM family_units WHERE id IN ({preregistered})")
    with op.batch_alter_table('family_units', schema=None) as batch_op:
        batch_op.drop_constraint('uq_family_units_passenger_group', type_='unique')
        batch_op.drop_column('passenger_group')
        batch_op.drop_constraint(op.f('ck_family_units_consent_known'), type_='check')
        batch_op.alter_column('consent_type', existing_type=sa.String(length=20), nullable=False)
        batch_op.drop_constraint(op.f('ck_family_units_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_family_units_status'), _in('status', CASE_STATUSES_BEFORE))
