<?php

declare(strict_types=1);

namespace WxToken;

/**
 * WXTOKEN_NOT_CONFIGURED: no app of that name was configured in this process (and the
 * WXTOKEN_APPID / WXTOKEN_SECRET environment names no app of that name either).
 */
class NotConfiguredException extends WxTokenException
{
    public const STATUS = 9;
    public const KIND = 'not_configured';
}
