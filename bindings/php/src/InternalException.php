<?php

declare(strict_types=1);

namespace WxToken;

/**
 * A bug rather than a condition to handle: WXTOKEN_PANIC (the library caught a panic at
 * its boundary) or WXTOKEN_BUFFER_TOO_SMALL surviving the retry with the announced size
 * (getStatus() tells which), or a status this binding does not know.
 */
class InternalException extends WxTokenException
{
    public const STATUS = 14;
    public const KIND = 'internal';
}
