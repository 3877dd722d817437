"""A tiny Wan2.2-TI2V-shaped model built from config (no downloads), saved as a diffusers folder.

The VAE and transformer configs are those of diffusers' own Wan2.2-TI2V-5B fast tests (48 latent
channels, patchified residual VAE, 16x spatial / 4x temporal compression); the text encoder is a tiny
UMT5 and the tokenizer a Unigram model trained here on a handful of sentences, so the folder loads
through exactly the code path a real ``Wan-AI/Wan2.2-TI2V-5B-Diffusers`` download does.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLWan,
    UniPCMultistepScheduler,
    WanImageToVideoPipeline,
    WanTransformer3DModel,
)
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import T5TokenizerFast, UMT5Config, UMT5EncoderModel

TEXT_DIM = 32
SHIFT = 5.0
CORPUS = [
    "navigate the red agent through the maze to the green goal",
    "connect each pair of coloured dots with a path that fills the grid",
    "push every box onto a target without getting stuck",
    "dance monkey",
]


def tiny_tokenizer() -> T5TokenizerFast:
    """A Unigram (sentencepiece-style) tokenizer with T5's special tokens: pad 0, </s> 1, <unk> 2."""
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=64, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    tokenizer.train_from_iterator(CORPUS * 4, trainer)
    eos = tokenizer.token_to_id("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", eos)])
    return T5TokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", extra_ids=0
    )


def tiny_components(seed: int = 0) -> dict:
    """The pipeline components of a tiny Wan2.2-TI2V model, randomly initialised from ``seed``."""
    torch.manual_seed(seed)
    z_dim = 48
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=z_dim,
        in_channels=12,
        out_channels=12,
        is_residual=True,
        patch_size=2,
        # non-trivial statistics so that the latent normalisation is actually exercised
        latents_mean=torch.linspace(-0.3, 0.3, z_dim).tolist(),
        latents_std=torch.linspace(0.5, 1.5, z_dim).tolist(),
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        scale_factor_spatial=16,
        scale_factor_temporal=4,
        temperal_downsample=[False, True, True],
    )
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=z_dim,
        out_channels=z_dim,
        text_dim=TEXT_DIM,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=64,
            d_model=TEXT_DIM,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            relative_attention_max_distance=16,
        )
    )
    # the real TI2V-5B folder ships a UniPC flow scheduler with flow_shift 5.0
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=SHIFT)
    return {
        "transformer": transformer,
        "vae": vae,
        "text_encoder": text_encoder.eval(),
        "tokenizer": tiny_tokenizer(),
        "scheduler": scheduler,
    }


def save_tiny_wan(root: str | Path, seed: int = 0) -> Path:
    """Write the tiny model as a diffusers ``WanImageToVideoPipeline`` folder (expand_timesteps=True)."""
    pipe = WanImageToVideoPipeline(**tiny_components(seed), expand_timesteps=True)
    pipe.save_pretrained(str(root))
    return Path(root)


def to_original_wan_keys(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a diffusers ``WanTransformer3DModel`` state dict to the original Wan / DiffSynth layout.

    Written from the original ``WanModel`` naming (``self_attn.q``, ``cross_attn.o``, ``norm3`` = the
    cross-attention norm, ``ffn.0``/``ffn.2``, ``modulation``, ``head.head``), independently of diffusers'
    converter, so that loading it back checks that converter rather than mirroring it.
    """
    renames = [
        ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
        ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
        ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
        ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
        ("condition_embedder.time_proj", "time_projection.1"),
        (".attn1.", ".self_attn."),
        (".attn2.", ".cross_attn."),
        (".to_q.", ".q."),
        (".to_k.", ".k."),
        (".to_v.", ".v."),
        (".to_out.0.", ".o."),
        (".ffn.net.0.proj.", ".ffn.0."),
        (".ffn.net.2.", ".ffn.2."),
        (".norm2.", ".norm3."),
        ("proj_out.", "head.head."),
    ]
    out = {}
    for key, value in state_dict.items():
        new = key
        for old, repl in renames:
            new = new.replace(old, repl)
        if new == "scale_shift_table":
            new = "head.modulation"
        elif new.endswith(".scale_shift_table"):
            new = new.replace(".scale_shift_table", ".modulation")
        out[new] = value
    return out
