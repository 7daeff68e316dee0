"""Type-checked with `mypy --strict` against the package's stubs (not run by pytest)."""

from __future__ import annotations

from typing import Any

import wxtoken


def business(token: str) -> dict[str, Any]:
    return {"errcode": 0, "token_length": len(token)}


def main(api_base: str) -> None:
    app: str = wxtoken.configure(
        "wx0000000000demo", "demo-secret-not-real", api_base=api_base, store="memory", timeout_ms=2000
    )
    token: str = wxtoken.get_token(app)
    token = wxtoken.invalidate(app, token)
    status: dict[str, Any] = wxtoken.status(app)
    answer: dict[str, Any] = wxtoken.call(app, business)
    length: int = wxtoken.call(app, len)

    client = wxtoken.Client(name="demo", platform="mp", mode="token", wait_ms=500)
    name: str = client.name
    token = client.get_token()
    token = client.invalidate(token)
    status = client.status()
    length = client.call(lambda t: len(t))

    try:
        wxtoken.get_token(name)
    except wxtoken.CredentialsRejected as e:
        code: int = e.errcode
        message: str = e.errmsg
        kind: str = e.kind
        print(code, message, kind)
    except wxtoken.InvalidArgument as e:
        value_error: ValueError = e
        print(value_error)
    except wxtoken.WxTokenError as e:
        print(e.errcode)

    bad_codes: frozenset[int] = wxtoken.BAD_TOKEN_ERRCODES
    version: str = wxtoken.__version__
    print(token, status, answer, length, bad_codes, version)


async def async_business(token: str) -> dict[str, Any]:
    return {"errcode": 0, "token_length": len(token)}


async def async_main(app: str) -> None:
    token: str = await wxtoken.aio.get_token(app)
    token = await wxtoken.aio.invalidate(app, token)
    status: dict[str, Any] = await wxtoken.aio.status(app)
    answer: dict[str, Any] = await wxtoken.aio.call(app, async_business)
    ticket: str = await wxtoken.aio.get_ticket(app, "jsapi")
    signature: str = (await wxtoken.aio.jssdk_config(app, "https://example.com/"))["signature"]
    print(token, status, answer, ticket, signature)
