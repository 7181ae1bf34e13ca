"""The phonetic keys and the similarity of names: pure functions, the same on every database."""

from __future__ import annotations

import datetime as dt

import pytest

from sosep_migrantes.cases.phonetic import (
    MemberKeyKind,
    compatible_age,
    lookup_keys,
    member_keys,
    name_similarity,
    name_words,
    phonetic,
    skeleton,
)

ON = dt.date(2026, 11, 20)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Velásquez", "Belasquez"),  # accent, b/v
        ("Velásquez", "Velazquez"),  # s/z
        ("Cecilia", "Sesilia"),  # c before e, i
        ("Yesenia", "Llesenia"),  # ll/y
        ("Hernández", "Ernandez"),  # silent h
        ("Quiché", "Kiche"),  # qu/k
        ("Carlos", "Karlos"),  # c before a, o, u
        ("Guillermo", "Guiyermo"),  # gu before e, i is a hard g; ll/y
        ("Miguel", "Mighel"),  # gu before e, i; silent h
        ("Jiménez", "Giménez"),  # g/j before e, i
        ("Gerardo", "Jerardo"),
        ("Xol", "Jol"),  # x/j
        ("Godoy", "Godoi"),  # final y
        ("Rosaura", "Rossaura"),  # doubled letter
    ],
)
def test_the_same_sound_has_the_same_code(a, b):
    assert phonetic(name_words(a)[0]) == phonetic(name_words(b)[0])


@pytest.mark.parametrize(("a", "b"), [("García", "Garza"), ("Ana", "Eva"), ("Mejía", "Mesa")])
def test_other_names_keep_other_codes(a, b):
    assert phonetic(name_words(a)[0]) != phonetic(name_words(b)[0])


def test_a_vowel_typed_wrong_or_left_out_keeps_the_skeleton():
    assert skeleton("lopez") == skeleton("lopz") == skeleton("lopes") == "lps"


def test_particles_are_left_out_of_the_words():
    assert name_words("de la Cruz  PÉREZ") == ["cruz", "perez"]


def test_the_keys_ignore_the_order_of_the_surnames_and_the_fields():
    born = dt.date(1990, 5, 3)
    stored = member_keys("María Elena", "López Pérez", born, None, ON)
    pairs = {k for kind, k in stored if kind is MemberKeyKind.PAIR_YEAR}
    assert pairs == {"lps mr 1990", "mr prs 1990", "eln lps 1990", "eln prs 1990"}
    assert pairs == {
        k
        for kind, k in member_keys("Maria Elena", "Perez Lopez", born, None, ON)
        if kind is MemberKeyKind.PAIR_YEAR
    }
    # A word key for the first given name and the first surname, with the date of birth.
    assert {k for kind, k in stored if kind is MemberKeyKind.WORD_BIRTH} == {
        "mr 1990-05-03",
        "lps 1990-05-03",
    }
    # Typed in another order, or with the fields swapped, the look-up still meets them.
    keys = {k for _kind, k in stored}
    for given, surnames in (("Maria Elena", "Perez Lopez"), ("Lopez Perez", "Maria Elena")):
        assert keys & set(lookup_keys(given, surnames, born, None, ON))


def test_an_anonymised_member_has_no_keys():
    assert member_keys("", "", None, 36, ON) == set()


def test_the_keys_looked_up_meet_the_keys_stored():
    stored = {k for _kind, k in member_keys("Yesenia", "Velásquez Xol", None, 30, dt.date(2022, 3, 1))}
    # Typed four years later with her age then (34), in another spelling and order.
    assert stored & set(lookup_keys("Llesenia", "Jol Belasquez", None, 34, ON))
    # With a date of birth, a typo in the surnames: the given name and the date still meet.
    born = dt.date(1992, 1, 15)
    stored = {k for _kind, k in member_keys("Juan", "Lopez", born, None, dt.date(2021, 6, 1))}
    assert stored & set(lookup_keys("Juan", "Lpoez", born, None, ON))


def test_no_keys_without_two_words_or_an_age():
    assert lookup_keys("María", "", None, 30, ON) == []
    assert lookup_keys("María", "López", None, None, ON) == []


@pytest.mark.parametrize(
    ("typed", "stored", "alike"),
    [
        ("María Elena López Pérez", "Maria Elena Lopez Perez", True),
        ("María Elena López Pérez", "Pérez López María Elena", True),
        ("María López", "María Elena López Pérez", True),
        ("Juan Lopz", "Juan López", True),
        ("Yesenia Velásquez", "Llesenia Belasquez", True),
        ("Juan López", "Juan García", False),
        ("Ana Tzoc", "Eva Tzul", False),
    ],
)
def test_name_similarity(typed, stored, alike):
    assert (name_similarity(name_words(typed), name_words(stored)) >= 0.75) is alike


def test_a_different_date_of_birth_is_another_person():
    born = dt.date(1990, 5, 3)
    assert compatible_age(born, None, born, None, ON, ON)
    assert not compatible_age(born, None, dt.date(1990, 5, 4), None, ON, ON)
    # Ages a year apart at most when one side has only an age.
    assert compatible_age(None, 36, born, None, ON, ON)
    assert compatible_age(None, 37, born, None, ON, ON)
    assert not compatible_age(None, 40, born, None, ON, ON)
    assert compatible_age(None, 38, None, 34, dt.date(2022, 11, 20), ON)
