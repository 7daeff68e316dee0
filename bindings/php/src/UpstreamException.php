<?php

declare(strict_types=1);

namespace WxToken;

/**
 * WXTOKEN_UPSTREAM: the platform answered "busy" (-1), an HTTP 5xx, or an errcode the
 * library does not know; retried with backoff before it reaches you.
 */
class UpstreamException extends WxTokenException
{
    public const STATUS = 4;
    public const KIND = 'upstream';
}
