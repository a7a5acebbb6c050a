"""The canonical register: loading, validation and lookup (no statistical model needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config import load_settings
from pipeline.entities import Organisation, OrganisationRegister
from pipeline.entities.register import normalise_name, read_pattern_file, slugify
from pipeline.errors import ConfigError

NHSEI = "nhs-england-and-nhs-improvement"


@pytest.mark.parametrize("text", [
    "NHSEI", "NHSE/I", "NHS England and NHS Improvement", "NHS England NHS Improvement",
    "NHS England & NHS Improvement", "NHS England", "NHS Improvement", "NHSE", "the NHSEI's",
    "nhs england and nhs improvement",
])
def test_nhs_england_variants_are_one_organisation(register: OrganisationRegister,
                                                   text: str) -> None:
    assert register.lookup(text) == Organisation(NHSEI, "NHS England and NHS Improvement",
                                                 "nhs_national")


@pytest.mark.parametrize(("text", "canonical_id", "org_type"), [
    ("the LGA", "local-government-association", "membership_body"),
    ("Local Government Association", "local-government-association", "membership_body"),
    ("NHS Confederation", "nhs-confederation", "membership_body"),
    ("NHS Providers", "nhs-providers", "membership_body"),
    ("District Councils' Network", "district-councils-network", "membership_body"),
    ("ADASS", "association-of-directors-of-adult-social-services", "membership_body"),
    ("BMA", "british-medical-association", "professional_body"),
    ("Royal College of General Practitioners", "royal-college-of-general-practitioners",
     "professional_body"),
    ("RCN", "royal-college-of-nursing", "professional_body"),
    ("DHSC", "department-of-health-and-social-care", "government"),
    ("The King's Fund", "kings-fund", "other"),
    ("Kent and Medway ICS", "kent-and-medway-ics", "ics"),
    ("NHS Dorset ICB", "dorset-ics", "ics"),
    ("Dorset STP", "dorset-ics", "ics"),
    ("One Gloucestershire", "one-gloucestershire-ics", "ics"),
    ("Gloucestershire Integrated Care System", "one-gloucestershire-ics", "ics"),
    ("Surrey Heartlands Health and Care Partnership", "surrey-heartlands-ics", "ics"),
    ("West Yorkshire and Harrogate STP", "west-yorkshire-ics", "ics"),
])
def test_known_organisations(register: OrganisationRegister, text: str, canonical_id: str,
                             org_type: str) -> None:
    org = register.lookup(text)
    assert org is not None
    assert (org.canonical_id, org.type) == (canonical_id, org_type)


@pytest.mark.parametrize(("text", "canonical_id", "name", "org_type"), [
    ("Rivermouth Borough Council", "rivermouth-borough-council", "Rivermouth Borough Council",
     "council"),
    ("the Mereshire County Council", "mereshire-county-council", "Mereshire County Council",
     "council"),
    ("London Borough of Eastfield", "london-borough-of-eastfield", "London Borough of Eastfield",
     "council"),
    ("Stoke-on-Avon City Council", "stoke-on-avon-city-council", "Stoke-on-Avon City Council",
     "council"),
    ("NHS Mereshire CCG", "nhs-mereshire-ccg", "NHS Mereshire CCG", "ccg"),
    ("Mereshire Clinical Commissioning Group", "mereshire-clinical-commissioning-group",
     "Mereshire Clinical Commissioning Group", "ccg"),
    ("Northfield Hospitals NHS Foundation Trust", "northfield-hospitals-nhs-foundation-trust",
     "Northfield Hospitals NHS Foundation Trust", "trust"),
    ("Eastbank PCN", "eastbank-pcn", "Eastbank PCN", "other"),
    ("Healthwatch Mereshire", "healthwatch-mereshire", "Healthwatch Mereshire", "other"),
    ("Rivermouth and Dale ICS", "rivermouth-and-dale-ics", "Rivermouth and Dale ICS", "ics"),
])
def test_generic_name_shapes(register: OrganisationRegister, text: str, canonical_id: str,
                             name: str, org_type: str) -> None:
    assert register.lookup(text) == Organisation(canonical_id, name, org_type)
    assert register.get(canonical_id) == Organisation(canonical_id, name, org_type)


@pytest.mark.parametrize("text", ["the Board", "Chair", "", "  ", "ICSs", "The Council",
                                  "County Council", "Each ICS", "Gloucestershire"])
def test_lookup_rejects_non_names(register: OrganisationRegister, text: str) -> None:
    assert register.lookup(text) is None


@pytest.mark.parametrize(("text", "generic"), [
    ("NHS", True), ("the NHS", True), ("The CCGs", True), ("PDF", True), ("ICS", True),
    ("NHS Providers", False),  # generic words, but a registered name
    ("NHS Clinical Commissioners", False), ("the Government", False),
    ("Harbour Carers Network", False), ("Trust leaders", False),
])
def test_kinds_of_body_are_generic(register: OrganisationRegister, text: str,
                                   generic: bool) -> None:
    assert register.is_generic(text) is generic


def test_doc_aliases_come_first(register: OrganisationRegister) -> None:
    council = register.lookup("Rivermouth Borough Council")
    assert council is not None
    aliases = {"RBC": council.canonical_id, "Council": council.canonical_id}
    assert register.lookup("RBC", aliases) == council
    assert register.lookup("the Council", aliases) == council
    assert register.lookup("the council", aliases) == council
    assert register.lookup("rbc", aliases) is None
    assert register.lookup("RBC") is None


def test_get_rebuilds_shape_ids_seen_elsewhere() -> None:
    fresh = OrganisationRegister.from_data(_data())
    assert fresh.get("nhs-lowfield-ccg") == Organisation("nhs-lowfield-ccg", "NHS Lowfield CCG",
                                                         "ccg")
    assert fresh.lookup("LBC", {"LBC": "lowfield-borough-council"}) == Organisation(
        "lowfield-borough-council", "Lowfield Borough Council", "council")
    assert fresh.get("lowfield") is None


def test_get_knows_model_only_ids(register: OrganisationRegister) -> None:
    assert register.get("model:harbour-carers-network") == Organisation(
        "model:harbour-carers-network", "Harbour Carers Network", "other")
    assert register.get("no-such-organisation") is None


def test_model_and_shape_organisations_are_remembered(register: OrganisationRegister) -> None:
    org = register.model_organisation("the Harbour Carers  Network's")
    assert org == Organisation("model:harbour-carers-network", "Harbour Carers Network", "other")
    shouted = register.shape_organisation("HARBOUR DISTRICT COUNCIL", "council")
    assert shouted == Organisation("harbour-district-council", "Harbour District Council",
                                   "council")
    assert register.get("harbour-district-council") == shouted


def test_register_pickles_without_spacy_objects(register: OrganisationRegister) -> None:
    import pickle

    assert register.lookup("Harbourside District Council") is not None
    copy = pickle.loads(pickle.dumps(register))
    assert copy.lookup("NHSEI") == register.lookup("NHSEI")
    assert copy.get("harbourside-district-council") == Organisation(
        "harbourside-district-council", "Harbourside District Council", "council")


def test_slugify_and_normalise() -> None:
    assert slugify("King's Fund") == "kings-fund"
    assert slugify("Customer & Relationships") == "customer-and-relationships"
    assert slugify("Ménière  Society") == "meniere-society"
    assert normalise_name("  the NHS\nConfederation's ") == "NHS Confederation"
    assert normalise_name("• LGA:") == "LGA"


def test_register_contents(register: OrganisationRegister) -> None:
    ics = [o for o in register.organisations.values() if o.type == "ics"]
    assert len(ics) == 42
    assert register.domains["nhsconfed.org"] == "nhs-confederation"
    assert register.things["health-and-social-care-act-2012"].label == "LAW"
    assert register.things["nhs-long-term-plan"].label == "POLICY"


def _data() -> dict[str, Any]:
    settings = load_settings()
    return read_pattern_file(settings.resolve(settings.entities.patterns))


def test_unknown_type_is_a_config_error() -> None:
    data = _data()
    data["organisations"][0] = {**data["organisations"][0], "type": "quango"}
    with pytest.raises(ConfigError, match="unknown type 'quango'"):
        OrganisationRegister.from_data(data)


def test_duplicate_id_is_a_config_error() -> None:
    data = _data()
    data["organisations"].append(dict(data["organisations"][0]))
    with pytest.raises(ConfigError, match="duplicate organisation id"):
        OrganisationRegister.from_data(data)


def test_missing_section_is_a_config_error() -> None:
    data = _data()
    del data["systems"]
    with pytest.raises(ConfigError, match="systems"):
        OrganisationRegister.from_data(data)


def _first(section: str, **changes: Any) -> dict[str, Any]:
    """The register data with the first entry of ``section`` changed (None removes a key)."""
    data = _data()
    entry = {**data[section][0], **changes}
    data[section][0] = {k: v for k, v in entry.items() if v is not None}
    return data


def _broken(key: str, value: Any) -> dict[str, Any]:
    return {**_data(), key: value}


@pytest.mark.parametrize(("data", "problem"), [
    (_first("organisations", type=None),
     "organisations entry 1 (nhs-england-and-nhs-improvement): no 'type' key"),
    (_first("organisations", aliases={"Brightwater Trust": "yes"}),
     "organisations entry 1 (nhs-england-and-nhs-improvement): 'aliases' must be a name or a "
     "list of names, not a mapping"),
    (_first("documents", label=None),
     "documents entry 1 (health-and-social-care-act-2012): no 'label' key"),
    (_first("generic", type=None), "generic entry 1: no 'type' key"),
    (_broken("organisations", ["Brightwater Trust"]),
     "organisations entry 1 must be a mapping of keys, not text"),
    (_broken("organisations", None), "'organisations' must be a list of entries, not nothing"),
    (_broken("systems", {"list": []}), "systems: no 'suffixes' key"),
    (_broken("roles", ["Chief Executive"]), "'roles' must be a mapping of keys, not a list"),
])
def test_a_bad_entry_is_named_in_one_readable_line(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        OrganisationRegister.from_data(data)
    assert str(refused.value) == f"invalid entity pattern data: {problem}"


def test_unreadable_pattern_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_pattern_file(tmp_path / "missing.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text(yaml.safe_dump(["a", "b"]), encoding="utf-8")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        read_pattern_file(listed)
    broken = tmp_path / "broken.yaml"
    broken.write_text("organisations: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read"):
        read_pattern_file(broken)
