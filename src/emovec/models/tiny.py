"""Tiny random models built from configs, with a tokenizer trained offline.

For tests, benchmarks and offline experiments: nothing is downloaded. Each builder writes a loadable
model folder (config, safetensors weights, tokenizer with a hand-set chat template), so the real
``load_model`` path is exercised.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n"
    "{{ message['content'] }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
WORDS = (
    "the a she he they it letter arrived morning read twice folded put kettle on rain window door opened "
    "closed walked slowly quickly smiled frowned laughed cried waited for train station friend mother "
    "father child dog garden kitchen table chair old new long short day night road home work phone "
    "message called answered never always again before after because while still only just then "
    "heart hands breath voice eyes looked away back down up over under into out of and but or not"
).split()


def training_text(n_sentences: int = 2000, seed: int = 0) -> list[str]:
    """Deterministic pseudo-sentences to train a small tokenizer on."""
    import random

    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 16))) + "." for _ in range(n_sentences)]


def train_tokenizer(kind: str = "bpe", vocab_size: int = 512):
    """A fast tokenizer trained offline: byte-level BPE with BOS (decoders) or WordPiece with CLS/SEP (encoders)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if kind == "wordpiece":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.train_from_iterator(
            training_text(), trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials)
        )
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
        )
        tok.decoder = decoders.WordPiece()
        return PreTrainedTokenizerFast(
            tokenizer_object=tok,
            unk_token="[UNK]",
            pad_token="[PAD]",
            cls_token="[CLS]",
            sep_token="[SEP]",
            mask_token="[MASK]",
        )
    specials = ["<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(training_text(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _attention(hidden: int = 64, heads: int = 4, kv: int = 2, layers: int = 3, inter: int = 128) -> dict:
    return {
        "hidden_size": hidden,
        "intermediate_size": inter,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "max_position_embeddings": 512,
    }


def _gemma3_text(vocab: int, **ids):
    from transformers import Gemma3TextConfig

    return Gemma3TextConfig(
        vocab_size=vocab,
        head_dim=16,
        sliding_window=16,
        layer_types=["sliding_attention", "full_attention"] * 2,
        **_attention(layers=4),
        **ids,
    )


def _gemma4_text(vocab: int, **ids):
    from transformers import Gemma4TextConfig

    return Gemma4TextConfig(
        vocab_size=vocab,
        head_dim=16,
        sliding_window=16,
        layer_types=["sliding_attention", "full_attention"] * 2,
        vocab_size_per_layer_input=vocab,
        hidden_size_per_layer_input=8,
        num_kv_shared_layers=0,
        per_layer_config={},
        **_attention(layers=4),
        **ids,
    )


def _configs() -> dict[str, Callable]:
    import transformers as tf

    def text(cls_name: str, **extra):
        return lambda vocab, **ids: getattr(tf, cls_name)(vocab_size=vocab, **_attention(), **extra, **ids)

    def gemma3_mm(vocab, **ids):
        vision = tf.SiglipVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=28,
            patch_size=14,
        )
        return tf.Gemma3Config(
            text_config=_gemma3_text(vocab, **ids),
            vision_config=vision,
            mm_tokens_per_image=4,
            image_token_index=vocab - 1,
            boi_token_index=vocab - 2,
            eoi_token_index=vocab - 3,
            **ids,
        )

    def gemma4_mm(vocab, **ids):
        vision = tf.Gemma4VisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            head_dim=16,
        )
        return tf.Gemma4Config(text_config=_gemma4_text(vocab, **ids), vision_config=vision, **ids)

    def gemma3n(vocab, **ids):
        return tf.Gemma3nTextConfig(
            vocab_size=vocab,
            vocab_size_per_layer_input=vocab,
            hidden_size=64,
            intermediate_size=[128] * 4,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            hidden_size_per_layer_input=8,
            sliding_window=16,
            laurel_rank=8,
            altup_num_inputs=4,
            num_kv_shared_layers=2,
            activation_sparsity_pattern=[0.95, 0.0, 0.0, 0.0],
            layer_types=["sliding_attention", "full_attention"] * 2,
            max_position_embeddings=512,
            **ids,
        )

    return {
        "llama": text("LlamaConfig"),
        "mistral": text("MistralConfig", sliding_window=None),
        "qwen2": text("Qwen2Config"),
        "qwen3": text("Qwen3Config", head_dim=16),
        "gemma2": text("Gemma2Config", head_dim=16, sliding_window=16),
        "gemma3-text": _gemma3_text,
        "gemma3-multimodal": gemma3_mm,
        "gemma3n": gemma3n,
        "gemma4-text": _gemma4_text,
        "gemma4-multimodal": gemma4_mm,
        "apertus": text("ApertusConfig"),
        "olmo2": text("Olmo2Config"),
        "phi3": text("Phi3Config"),
        "gpt2": lambda vocab, **ids: tf.GPT2Config(
            vocab_size=vocab, n_embd=64, n_layer=3, n_head=4, n_positions=512, **ids
        ),
        "gpt-neox": text("GPTNeoXConfig"),
        "bert": lambda vocab, **ids: tf.BertConfig(
            vocab_size=vocab,
            hidden_size=64,
            num_hidden_layers=3,
            num_attention_heads=4,
            intermediate_size=128,
            max_position_embeddings=512,
            **ids,
        ),
    }


ARCHITECTURES = (
    "llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3-text", "gemma3-multimodal", "gemma3n", "gemma4-text",
    "gemma4-multimodal", "apertus", "olmo2", "phi3", "gpt2", "gpt-neox", "bert",
)  # fmt: skip


def build_tiny_model(arch: str, out: str | Path, seed: int = 0, config_overrides: dict | None = None) -> Path:
    """Write a random ``arch`` model with an offline-trained tokenizer to ``out``; returns the folder."""
    import torch
    import transformers as tf

    builders = _configs()
    if arch not in builders:
        raise ValueError(f"unknown tiny architecture {arch!r}; known: {', '.join(builders)}")
    out = Path(out)
    tokenizer = train_tokenizer("wordpiece" if arch == "bert" else "bpe")
    if arch == "bert":
        ids = {"pad_token_id": tokenizer.pad_token_id}
    else:
        ids = {
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        }
    config = builders[arch](len(tokenizer), **ids)
    for key, value in (config_overrides or {}).items():
        setattr(config, key, value)
    torch.manual_seed(seed)
    if arch == "bert":
        model = tf.BertModel(config)
    elif arch.endswith("multimodal"):
        model = tf.AutoModelForImageTextToText.from_config(config)
    else:
        model = tf.AutoModelForCausalLM.from_config(config)
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
