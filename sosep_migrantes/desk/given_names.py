"""First given names common in Guatemala whose sex is not in doubt, for the desk to *propose* a member's
sex while the receptionist types (issue #11: fewer keys per person).

Only a proposal: the sex field shows it, marked as proposed by the name, and staff change it with one
key when it does not fit the person in front of them. Only the first given name counts ("José María" is
a man, "María José" a woman), and names borne by women and men alike (Guadalupe, Cruz, Santos, Rosario,
Trinidad, Carmen, Reyes...) are left out on purpose: no proposal is better than a wrong one.
"""

from __future__ import annotations

from ..cases.models import Sex
from ..core.text import fold


def _folded(names: str) -> frozenset[str]:
    """The names of a text (one or more per line), folded: compared without accents, in lower case."""
    return frozenset(fold(name) for name in names.split())


#: Written as staff write them.
WOMEN = _folded(
    """
    Alba Alejandra Alicia Alma Amalia Ana Andrea Angélica Aura Beatriz Blanca Brenda Candelaria Carla
    Catalina Catarina Claudia Cristina Daniela Delfina Dominga Dora Dulce Elena Elizabeth Elvira Emilia
    Esperanza Estela Esther Evelyn Fabiola Fernanda Flor Francisca Gabriela Gloria Heidy Ingrid Irma Isabel
    Jennifer Josefa Juana Julia Karla Karen Kimberly Laura Leticia Lidia Lilian Lucía Luisa Magdalena
    Manuela Margarita María Mariela Marleny Marta Martha Micaela Mirna Mónica Natalia Olga Patricia Paula
    Petrona Raquel Rebeca Reyna Rosa Ruth Sandra Sara Silvia Sofía Sonia Susana Tomasa Teresa Valeria
    Verónica Victoria Vilma Wendy Yesenia Zoila
    """
)
MEN = _folded(
    """
    Abel Adolfo Alberto Alejandro Alfonso Alfredo Álvaro Andrés Ángel Antonio Armando Arnoldo Baltazar
    Bryan Brayan Byron Carlos César Cristian Christian Cristóbal Daniel David Diego Domingo Edgar Eduardo
    Edwin Elmer Emilio Enrique Erick Ernesto Esteban Estuardo Felipe Fernando Francisco Gaspar Gerardo
    Gregorio Gustavo Héctor Henry Hugo Isaac Jacinto Jaime Javier Joel Jonathan Jorge José Josué Juan
    Julio Kevin Lorenzo Luis Manuel Marco Mario Martín Marvin Mateo Miguel Mynor Nelson Nicolás Óscar
    Oscar Otto Pablo Pedro Rafael Ramiro Raúl Ricardo Roberto Rodolfo Rolando Rubén Samuel Santiago
    Sebastián Sergio Tomás Víctor Walter Wilson
    """
)


def sex_by_first_name() -> dict[str, str]:
    """Folded first given name -> the sex it proposes (the form's values: ``F``, ``M``)."""
    return {**{name: Sex.FEMALE.value for name in WOMEN}, **{name: Sex.MALE.value for name in MEN}}
