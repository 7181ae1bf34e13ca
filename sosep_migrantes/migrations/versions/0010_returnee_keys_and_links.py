"""returnees: phonetic keys of the members, and the links and dismissals of earlier records

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 23:30:00

Returnee detection across the country (issue #12, item 3). ``member_keys``: the phonetic keys each member
is found by (``cases.phonetic.member_keys``) and its whole name folded (``name_key``), btree-indexed on
``key`` (including ``member_id`` and ``name_key`` on PostgreSQL), so one person's candidates are found
and their names compared from the index at a million persons (no extension needed: no pg_trgm here).
``returnee_links``: what staff decided about a pair of records (linked: a re-migration; dismissed: not
offered again).

The keys of the members already saved are computed here with the application's own function, in batches
streamed from the database: the keys must be the ones the application looks up, so a later change to the
key function comes with its own migration that writes them again.
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# Written out, not imported: a migration keeps meaning what it meant when written.
KEY_KINDS = ('pair_year', 'word_birth')
DECISIONS = ('linked', 'dismissed')
BATCH = 20_000


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    op.create_table(
        'member_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('name_key', sa.String(length=200), nullable=False),
        sa.CheckConstraint(_in('kind', KEY_KINDS), name=op.f('ck_member_keys_kind')),
        sa.ForeignKeyConstraint(
            ['member_id'], ['members.id'], name=op.f('fk_member_keys_member_id_members'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_member_keys')),
    )
    op.create_table(
        'returnee_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('earlier_member_id', sa.Integer(), nullable=False),
        sa.Column('decision', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.CheckConstraint(_in('decision', DECISIONS), name=op.f('ck_returnee_links_decision')),
        sa.ForeignKeyConstraint(
            ['member_id'], ['members.id'], name=op.f('fk_returnee_links_member_id_members'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['earlier_member_id'],
            ['members.id'],
            name=op.f('fk_returnee_links_earlier_member_id_members'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_returnee_links_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_returnee_links')),
        sa.UniqueConstraint('member_id', 'earlier_member_id', name='uq_returnee_links_pair'),
    )
    op.create_index(op.f('ix_returnee_links_member_id'), 'returnee_links', ['member_id'], unique=False)
    op.create_index(
        op.f('ix_returnee_links_earlier_member_id'), 'returnee_links', ['earlier_member_id'], unique=False
    )
    _backfill_keys()
    # Built after the rows: one sort instead of an insertion per key.
    op.create_index(op.f('ix_member_keys_member_id'), 'member_keys', ['member_id'], unique=False)
    # On PostgreSQL with what the search reads of each key found: an index-only scan.
    op.create_index(
        'ix_member_keys_key', 'member_keys', ['key'], unique=False, postgresql_include=['member_id', 'name_key']
    )


def _backfill_keys():
    from sosep_migrantes.cases.phonetic import member_keys, name_key
    from sosep_migrantes.core.timeutil import to_local

    bind = op.get_bind()
    keys = sa.table(
        'member_keys', sa.column('member_id'), sa.column('kind'), sa.column('key'), sa.column('name_key')
    )
    # Anonymised members (no names, no date of birth) get no keys; the others all do. Read by ranges of
    # ids (keyset), so neither a million rows in memory nor a cursor left open between the inserts.
    select = sa.text(
        "SELECT m.id, m.given_names, m.surnames, m.birth_date, m.estimated_age, a.arrived_at "
        "FROM members m JOIN family_units f ON f.id = m.family_id JOIN arrivals a ON a.id = f.arrival_id "
        "WHERE m.id > :after AND m.given_names <> '' ORDER BY m.id LIMIT :batch"
    ).columns(birth_date=sa.Date(), arrived_at=sa.DateTime(timezone=True))
    days: dict[object, dt.date] = {}
    after = 0
    while True:
        rows = bind.execute(select, {"after": after, "batch": BATCH}).all()
        if not rows:
            break
        chunk = []
        for member_id, given, surnames, birth_date, estimated_age, arrived_at in rows:
            arrived_on = days.get(arrived_at)
            if arrived_on is None:
                arrived_on = days[arrived_at] = to_local(arrived_at).date()
            name = name_key(given, surnames)
            for kind, key in member_keys(given, surnames, birth_date, estimated_age, arrived_on):
                chunk.append({"member_id": member_id, "kind": kind.value, "key": key, "name_key": name})
        if chunk:
            bind.execute(keys.insert(), chunk)
        after = rows[-1][0]


def downgrade():
    op.drop_index(op.f('ix_returnee_links_earlier_member_id'), table_name='returnee_links')
    op.drop_index(op.f('ix_returnee_links_member_id'), table_name='returnee_links')
    op.drop_table('returnee_links')
    op.drop_index('ix_member_keys_key', table_name='member_keys')
    op.drop_index(op.f('ix_member_keys_member_id'), table_name='member_keys')
    op.drop_table('member_keys')
