"""Credential masking: each provider's token shape is found and masked; ordinary code is left alone."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from cookbook_ext.redact import Redactor, find_credentials, mask_credentials, mask_values

HF = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"
OPENAI_LEGACY = "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4"
OPENAI_PROJECT = "sk-proj-" + "Ab12_Cd34-Ef56Gh78Ij90Kl12Mn34Op56Qr78St90"
ANTHROPIC = "sk-ant-api03-" + "Zy98Xw76Vu54Ts32Rq10Po98Nm76Lk54Ji32Hg10-Fe98Dc76"
GITHUB_CLASSIC = "ghp_" + "a" * 12 + "B" * 12 + "1234567890ab"
GITHUB_FINE = "github_pat_" + "11ABCDEFG0" + "abcdefghijkl_" + "x1Y2z3" * 10
AWS_KEY_ID = "AKIA" + "ABCDEFGHIJ234567"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("secret", "kind"),
    [
        (HF, "huggingface"),
        (OPENAI_LEGACY, "openai"),
        (OPENAI_PROJECT, "openai"),
        (ANTHROPIC, "anthropic"),
        (GITHUB_CLASSIC, "github"),
        (GITHUB_FINE, "github"),
        (AWS_KEY_ID, "aws"),
    ],
)
def test_each_token_shape_is_masked_with_its_kind(secret: str, kind: str) -> None:
    text = f'TOKEN = "{secret}"\nprint(TOKEN)\n'
    masked, count = mask_credentials(text)
    assert count == 1
    assert secret not in masked
    assert f'TOKEN = "[REDACTED:{kind}]"' in masked


def test_aws_secret_assignment_masks_only_the_value() -> None:
    text = f"[default]\naws_secret_access_key = {AWS_SECRET}\nregion = eu-west-1\n"
    masked, count = mask_credentials(text)
    assert count == 1
    assert "aws_secret_access_key = [REDACTED:aws]" in masked
    assert "region = eu-west-1" in masked


def test_aws_secret_in_an_environment_export_is_masked() -> None:
    masked, _ = mask_credentials(f'export AWS_SECRET_ACCESS_KEY="{AWS_SECRET}"')
    assert AWS_SECRET not in masked


def test_anthropic_keys_are_not_reported_as_openai() -> None:
    [finding] = find_credentials(f"key={ANTHROPIC}")
    assert finding.kind == "anthropic"


def test_findings_give_position_and_line_but_not_the_secret() -> None:
    text = f"first line\nsecond {HF} here\n"
    [finding] = find_credentials(text)
    assert (finding.kind, finding.line) == ("huggingface", 2)
    assert text[finding.start : finding.end] == HF
    assert HF not in repr(finding)


@pytest.mark.parametrize(
    "innocent",
    [
        "from huggingface_hub import hf_hub_download",
        "hf_token = os.environ['HF_TOKEN']",
        "pip install scikit-learn  # sk-learn",
        "task-specific-finetuning-of-a-very-long-model-name",
        "risk-assessment-with-a-fairly-long-identifier-name-here",
        "ghp_short",
        "AKIA is how AWS key ids start",
        "sk-ant-short",
        "the model uses a mask-token-prediction objective",
        "desk-0123456789abcdefghijklmnopqrstuvwxyz",
    ],
)
def test_ordinary_text_is_not_masked(innocent: str) -> None:
    assert mask_credentials(innocent) == (innocent, 0)


def test_several_credentials_in_one_text_are_all_masked() -> None:
    text = f"{HF} and {OPENAI_PROJECT} and {GITHUB_CLASSIC}"
    masked, count = mask_credentials(text)
    assert count == 3
    assert masked == "[REDACTED:huggingface] and [REDACTED:openai] and [REDACTED:github]"


def test_mask_values_replaces_stored_secret_values() -> None:
    text = "password is hunter2-long and again hunter2-long; other stays"
    assert mask_values(text, ["hunter2-long"]) == (
        "password is [REDACTED:secret] and again [REDACTED:secret]; other stays"
    )


def test_mask_values_ignores_empty_and_very_short_values() -> None:
    text = "a b c abc"
    assert mask_values(text, ["", "a", "ab"]) == text


def test_mask_values_masks_the_longer_of_overlapping_values_whole() -> None:
    assert mask_values("token-abcdef-xyz", ["abcd", "token-abcdef-xyz"]) == "[REDACTED:secret]"


def test_mask_values_treats_values_literally() -> None:
    assert mask_values("cost is $1.00 (usd)", ["$1.00 (usd)"]) == "cost is [REDACTED:secret]"


def test_masking_a_megabyte_without_credentials_is_fast() -> None:
    text = "def forward(self, x):\n    return self.layer(x) * 2\n" * 20000
    start = time.perf_counter()
    assert mask_credentials(text)[1] == 0
    assert time.perf_counter() - start < 0.5


SECRET = 'pa"ss/word\\-1234'


def test_a_redactor_masks_secret_values_as_written_and_encoded() -> None:
    redact = Redactor([SECRET])
    for shown in (SECRET, repr(SECRET)[1:-1], json.dumps(SECRET)[1:-1], quote(SECRET, safe="")):
        assert redact(f"x {shown} y") == "x [REDACTED:secret] y", shown


def test_a_redactor_masks_credential_shapes_without_any_value() -> None:
    assert Redactor()(f"key {HF}") == "key [REDACTED:huggingface]"


def test_a_redactor_ignores_values_too_short_to_mask() -> None:
    assert Redactor(["abc", ""])("abc def") == "abc def"


def test_a_redactor_applies_the_chained_redactor_last() -> None:
    redact = Redactor(["value-123456"], chained=lambda text: text.replace("other", "***"))
    assert redact("value-123456 other") == "[REDACTED:secret] ***"


def test_with_values_masks_the_new_values_and_keeps_the_old() -> None:
    redact = Redactor(["first-secret"], chained=str.upper).with_values(["second-secret"])
    assert redact("first-secret second-secret x") == "[REDACTED:SECRET] [REDACTED:SECRET] X"


def test_obj_masks_every_string_except_binary_media() -> None:
    data = {
        "text": SECRET,
        "items": (SECRET, 3),
        "data": {"image/png": SECRET, "image/svg+xml": SECRET, "application/json": {SECRET: [SECRET]}},
    }
    masked = Redactor([SECRET]).obj(data)
    assert masked["text"] == "[REDACTED:secret]"
    assert masked["items"] == ["[REDACTED:secret]", 3]
    assert masked["data"]["image/png"] == SECRET
    assert masked["data"]["image/svg+xml"] == "[REDACTED:secret]"
    assert masked["data"]["application/json"] == {"[REDACTED:secret]": ["[REDACTED:secret]"]}
