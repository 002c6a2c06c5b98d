import pytest

from fairnb import attributes as at


def test_schema_matches_paper_codes():
    assert at.group_names("race") == ["Asian", "Black", "White"]
    assert at.group_names("gender") == ["Female", "Male"]
    assert at.group_names("ethnicity") == ["Non-Hispanic", "Hispanic"]
    assert at.group_names("language") == ["English", "Spanish", "Other"]
    assert at.n_groups("maritalstatus") == 5
    assert at.code_to_name("maritalstatus", 4) == "Legally Separated"


@pytest.mark.parametrize("attribute", at.ATTRIBUTES)
def test_names_and_codes_round_trip(attribute):
    for code in at.group_codes(attribute) + [at.UNKNOWN]:
        name = at.code_to_name(attribute, code)
        assert at.name_to_code(attribute, name) == code
        assert at.name_to_code(attribute, name.upper()) == code
        assert at.name_to_code(attribute, at.group_slug(name)) == code


def test_unknown_is_valid_but_out_of_schema_codes_are_not():
    assert at.is_valid_code("ethnicity", -1)
    assert not at.is_valid_code("ethnicity", 2)
    with pytest.raises(ValueError, match=r"0 \(Non-Hispanic\), 1 \(Hispanic"):
        at.code_to_name("ethnicity", 2)


def test_bad_attribute_names_choices_and_closest_match():
    with pytest.raises(ValueError) as err:
        at.check_attribute("raec")
    msg = str(err.value)
    assert "race, gender, ethnicity, language, maritalstatus" in msg
    assert "Did you mean 'race'" in msg


def test_bad_group_name_lists_groups():
    with pytest.raises(ValueError, match="Did you mean 'Black'"):
        at.name_to_code("race", "Blak")


def test_group_slug_and_parse_attributes():
    assert at.group_slug("Married/Partnered") == "married_partnered"
    assert at.group_slug("Non-Hispanic") == "non_hispanic"
    assert at.parse_attributes("all") == list(at.ATTRIBUTES)
    assert at.parse_attributes("race, gender") == ["race", "gender"]
    assert at.parse_attributes(["language"]) == ["language"]
    with pytest.raises(ValueError, match="Did you mean 'gender'"):
        at.parse_attributes("race,gendr")
