"""Entities stage: organisations (canonicalised), legislation, policy documents, people, dates.

Entry points: :func:`load_register`, :meth:`OrganisationRegister.lookup`,
:func:`extract_entities` and :func:`build_organisations`. All domain knowledge lives in the
pattern file ``models/entities/organisations.yaml``.
"""

from pipeline.entities.extract import extract_entities
from pipeline.entities.organisations import aliases_from_entities, build_organisations
from pipeline.entities.register import Organisation, OrganisationRegister, load_register
from pipeline.entities.types import Author, EntityResult

__all__ = [
    "Author",
    "EntityResult",
    "Organisation",
    "OrganisationRegister",
    "aliases_from_entities",
    "build_organisations",
    "extract_entities",
    "load_register",
]
