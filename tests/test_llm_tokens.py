"""Offline token estimation: deterministic, roughly BPE-sized, and truncation that respects a budget."""

from __future__ import annotations

import time

from cookbook_ext.llm_tokens import count_tokens, truncate_to_tokens

PROSE = (
    "Cookbook turns a GitHub repository tied to a Hugging Face model into validated, runnable cells "
    "in the notebook the user has open. Each cell that ran cleanly appears with its outputs. "
) * 20
CODE = (
    """
from transformers import AutoModelForCausalLM, AutoTokenizer

def generate(prompt: str, max_new_tokens: int = 64) -> str:
    tokenizer = AutoTokenizer.from_pretrained("acme-ai/tiny-llama-chat")
    model = AutoModelForCausalLM.from_pretrained("acme-ai/tiny-llama-chat")
    inputs = tokenizer(prompt, return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=max_new_tokens)
    return tokenizer.decode(output[0], skip_special_tokens=True)
"""
    * 10
)


def test_empty_text_has_no_tokens() -> None:
    assert count_tokens("") == 0


def test_counting_is_deterministic() -> None:
    assert count_tokens(CODE) == count_tokens(CODE)


def test_english_prose_is_about_four_characters_a_token() -> None:
    ratio = len(PROSE) / count_tokens(PROSE)
    assert 3.0 <= ratio <= 5.5


def test_python_code_is_about_three_to_four_characters_a_token() -> None:
    ratio = len(CODE) / count_tokens(CODE)
    assert 2.5 <= ratio <= 4.5


def test_long_words_and_numbers_cost_several_tokens() -> None:
    assert count_tokens("the") == 1
    assert count_tokens("internationalisation") >= 4
    assert count_tokens("1234567890") == 4  # digit groups of three


def test_cjk_text_costs_about_a_token_a_character() -> None:
    assert count_tokens("日本語のテキスト") >= 8


def test_every_character_is_accounted_for() -> None:
    # Unusual whitespace (no-break space, line separator) still costs something.
    assert count_tokens("\u00a0\u2028\r") >= 1


def test_truncation_stays_within_the_budget_and_is_a_prefix() -> None:
    for n in (1, 7, 50, 300):
        cut = truncate_to_tokens(CODE, n)
        assert CODE.startswith(cut)
        assert count_tokens(cut) <= n


def test_truncation_keeps_text_that_already_fits() -> None:
    assert truncate_to_tokens("short text", 100) == "short text"
    assert truncate_to_tokens("anything", 0) == ""


def test_counting_is_fast_enough_for_context_packs() -> None:
    text = CODE * 20  # about 150 KB
    start = time.perf_counter()
    count_tokens(text)
    assert time.perf_counter() - start < 1.0
