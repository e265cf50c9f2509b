"""Encoder settings as pydantic models, loadable from YAML (and overridden from the CLI)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from culturecart.config_files import load_model_file, validated
from culturecart.encoders.registry import ENCODERS, create_encoder


class EncoderConfig(BaseModel):
    """One encoder: a registered name (or alias) and its options."""

    model_config = ConfigDict(extra="forbid")

    name: str
    options: dict[str, object] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        ENCODERS.resolve(value)  # an unknown name lists the encoders
        return value

    @model_validator(mode="after")
    def _options_fit(self) -> EncoderConfig:
        from culturecart.encoders.registry import options_model

        validated(options_model(self.name), self.options, f"options of encoder {ENCODERS.canonical(self.name)}")
        return self

    def build(self):
        return create_encoder(self.name, **self.options)


class EncodersConfig(BaseModel):
    """Text and image encoders plus batching and cache settings.

    Example:
        >>> EncodersConfig.model_validate({"text": {"name": "e5"}}).text.name
        'e5'
    """

    model_config = ConfigDict(extra="forbid")

    text: EncoderConfig = Field(default_factory=lambda: EncoderConfig(name="use-m3"))
    image: EncoderConfig = Field(default_factory=lambda: EncoderConfig(name="effnet-lite0"))
    batch_size: int = Field(64, ge=1)
    max_chars: int = Field(2000, ge=1)
    on_image_error: str = Field("mask", pattern="^(raise|mask)$")
    cache_dir: str | None = Field(None, json_schema_extra={"path": True})

    @classmethod
    def from_yaml(cls, path: str | Path) -> EncodersConfig:
        return load_model_file(cls, path, "encoders config")

    def with_names(self, text: str | None = None, image: str | None = None, **settings: object) -> EncodersConfig:
        """This config with other text / image encoders (their options reset) and settings; a
        :class:`~culturecart.errors.ConfigError` names an unknown encoder or setting."""
        updates = {k: {"name": v, "options": {}} for k, v in (("text", text), ("image", image)) if v}
        return validated(EncodersConfig, {**self.model_dump(), **updates, **settings}, "encoder settings")
