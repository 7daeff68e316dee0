<?php

declare(strict_types=1);

namespace WxToken;

/**
 * WXTOKEN_TIMEOUT: an upstream call (timeout_ms) or the wait for a refresh (wait_ms) ran out of time.
 */
class TimeoutException extends WxTokenException
{
    public const STATUS = 6;
    public const KIND = 'timeout';
}
