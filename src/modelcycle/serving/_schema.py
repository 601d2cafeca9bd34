"""The API's pydantic models: the one place where the request, response and error shapes live.

FastAPI generates the OpenAPI schema from them, the predict route and its fast path
(:mod:`modelcycle.serving._gate`) validate and serialise with them, and every error answer is an
:class:`ErrorResponse`.
"""

# no ``from __future__ import annotations``: pydantic reads the annotations of the models made
# inside request_model
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from modelcycle.serving._settings import ServeSettings

__all__ = [
    "ErrorDetail",
    "ErrorResponse",
    "ModelIdentity",
    "PredictRequestBase",
    "PredictResponse",
    "Prediction",
    "limits_text",
    "request_model",
]


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable, machine-readable error code.")
    message: str = Field(description="What was wrong and how to fix it.")


class ErrorResponse(BaseModel):
    """The one shape of every error answer."""

    error: ErrorDetail


class Prediction(BaseModel):
    label: str = Field(description="The model's answer (after its stored threshold, if any).")
    scores: dict[str, float] = Field(
        description="Probability of each label (after its stored calibration, if any)."
    )


class ModelIdentity(BaseModel):
    name: str
    version: str = Field(description="First 12 hex digits of the SHA-256 of the manifest.")
    precision: str


class PredictResponse(BaseModel):
    predictions: list[Prediction] = Field(description="One per text, in the order sent.")
    model: ModelIdentity


class PredictRequestBase(BaseModel):
    """The texts to classify (without a server's limits: see :func:`request_model`)."""

    model_config = ConfigDict(extra="forbid")
    texts: list[str] = Field(min_length=1, description="The texts to classify.")


def limits_text(settings: ServeSettings) -> str:
    """The request limits in words, for the API's documentation."""
    return (
        f"At most {settings.max_texts} texts per request, {settings.max_text_chars:,} "
        f"characters per text and {settings.max_body_bytes:,} bytes per body (413 beyond)."
    )


def request_model(settings: ServeSettings) -> type[PredictRequestBase]:
    """:class:`PredictRequestBase` with this server's limits in its JSON schema (``maxItems``,
    ``maxLength``). They are documented, not validated by pydantic: a request over them gets a
    413 with its own message, not a 422."""

    class PredictRequest(PredictRequestBase):
        """The texts to classify."""

        texts: Annotated[
            list[Annotated[str, Field(json_schema_extra={"maxLength": settings.max_text_chars})]],
            Field(
                min_length=1,
                description="The texts to classify. " + limits_text(settings),
                json_schema_extra={"maxItems": settings.max_texts},
            ),
        ]

    return PredictRequest
