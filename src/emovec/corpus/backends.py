"""Generation backends behind one interface: ``model_id`` and ``generate(prompts, settings, seed) -> answers``.

``HFBackend`` samples with a loaded Hugging Face chat model (left padding, through its chat template);
``VLLMBackend`` does the same on vLLM (optional extra ``vllm``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emovec.errors import EmovecError

if TYPE_CHECKING:
    from emovec.corpus.generation import GenerationSettings


class HFBackend:
    """Batched sampling with a Hugging Face causal LM through its chat template (left padding)."""

    name = "hf"

    def __init__(self, loaded):
        tokenizer = loaded.tokenizer
        if not getattr(tokenizer, "chat_template", None):
            raise EmovecError(f"{loaded.name}: the tokenizer has no chat template, which --backend hf needs")
        if not loaded.is_decoder:
            raise EmovecError(f"{loaded.name}: an encoder cannot generate text; use a chat model")
        self.loaded = loaded

    @property
    def model_id(self) -> tuple[str, str | None]:
        return self.loaded.name, self.loaded.revision

    def generate(self, prompts: list[str], settings: GenerationSettings, seed: int) -> list[str]:
        import torch

        tokenizer, model = self.loaded.tokenizer, self.loaded.model
        texts = [
            tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
            for p in prompts
        ]
        encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        width = max(len(ids) for ids in encoded)
        pad = self.loaded.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in encoded], device=self.loaded.device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded], device=self.loaded.device)
        torch.manual_seed(seed)
        with torch.inference_mode():
            output = model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                do_sample=True,
                temperature=settings.temperature,
                top_p=settings.top_p,
                max_new_tokens=settings.max_new_tokens,
                pad_token_id=pad,
            )
        return tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)


class VLLMBackend:
    """The same interface on vLLM (optional extra ``vllm``)."""

    name = "vllm"

    def __init__(self, model: str, revision: str | None = None, trust_remote_code: bool = False, **engine):
        try:
            import vllm
        except ImportError:
            raise EmovecError("--backend vllm needs the vllm package (pip install 'emovec[vllm]')") from None
        self._vllm = vllm
        self.llm = vllm.LLM(model=model, revision=revision, trust_remote_code=trust_remote_code, **engine)
        self._id = (model, revision)

    @property
    def model_id(self) -> tuple[str, str | None]:
        return self._id

    def generate(self, prompts: list[str], settings: GenerationSettings, seed: int) -> list[str]:
        params = self._vllm.SamplingParams(
            temperature=settings.temperature, top_p=settings.top_p, max_tokens=settings.max_new_tokens, seed=seed
        )
        conversations = [[{"role": "user", "content": p}] for p in prompts]
        return [result.outputs[0].text for result in self.llm.chat(conversations, params, use_tqdm=False)]
