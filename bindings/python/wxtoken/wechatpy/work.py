"""WeCom: wechatpy's ``WeChatClient`` of ``wechatpy.work`` (``wechatpy.enterprise``
in wechatpy 1.x), its access_token from wxtoken.

    from wxtoken.wechatpy.work import WeChatClient   # was: from wechatpy.enterprise import WeChatClient

    client = WeChatClient(corp_id, secret)            # optional: store=..., name=..., options
    client.message.send_text(agent_id, "zhangsan", "hi")

See :mod:`wxtoken.wechatpy` for what changes (only the token).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wxtoken.wechatpy import TokenFromWxtoken, _no_access_token

try:  # wechatpy 2 names the WeCom client's package "work", 1.x "enterprise"
    from wechatpy.work import WeChatClient as _WeComClient  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError:
    from wechatpy.enterprise import WeChatClient as _WeComClient  # type: ignore[import-untyped, unused-ignore]

import wxtoken
from wxtoken import _wxtoken

if TYPE_CHECKING:  # names of the stubs only
    from typing_extensions import Unpack

    from wxtoken._wxtoken import Options

__all__ = ["WeChatClient"]


class WeChatClient(TokenFromWxtoken, _WeComClient):  # type: ignore[misc]
    """wechatpy's WeCom ``WeChatClient``, its token from wxtoken.

    WeChatClient(corp_id, secret, session=None, timeout=None, auto_retry=True,
    **options): wechatpy's arguments, then keyword options of
    wxtoken.configure() (store, api_base, name...). Each WeCom application has its own secret
    and token, so the default name in wxtoken is the corp id plus a short hash of
    the secret (two applications of one corp never share a name); pass ``name``
    for a readable one. The name is held in ``wxtoken_app``.
    """

    def __init__(
        self,
        corp_id: str,
        secret: str,
        access_token: None = None,
        session: Any = None,
        timeout: Any = None,
        auto_retry: bool = True,
        **options: Unpack[Options],
    ) -> None:
        _no_access_token(access_token)
        options["platform"] = "wecom"  # the platform of the wechatpy class
        super().__init__(corp_id, secret, None, session, timeout, auto_retry)
        if "name" not in options:  # the core's rule, which EasyWeChat's AccessToken shares
            options["name"] = _wxtoken._default_wecom_name(corp_id, secret)
        self.wxtoken_app = wxtoken.configure(corp_id, secret, **options)
