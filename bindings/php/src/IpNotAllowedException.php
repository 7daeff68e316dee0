<?php

declare(strict_types=1);

namespace WxToken;

/**
 * WXTOKEN_IP_NOT_ALLOWED: this host's IP is not on the account's allow-list (40164, WeCom 60020).
 */
class IpNotAllowedException extends WxTokenException
{
    public const STATUS = 2;
    public const KIND = 'ip_not_allowed';
}
