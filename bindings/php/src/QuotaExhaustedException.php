<?php

declare(strict_types=1);

namespace WxToken;

/**
 * WXTOKEN_QUOTA_EXHAUSTED: the daily or per-minute token quota is spent (45009, 45011).
 */
class QuotaExhaustedException extends WxTokenException
{
    public const STATUS = 3;
    public const KIND = 'quota_exhausted';
}
