<?php

declare(strict_types=1);

namespace WxToken;

/**
 * A bad argument or option: WXTOKEN_INVALID_ARGUMENT (unknown option, bad value, empty
 * app name...), and also WXTOKEN_NULL_POINTER and WXTOKEN_INVALID_UTF8 (getStatus() tells
 * which). Thrown by PHP itself, before calling the library, for a string holding a NUL
 * byte and for options that cannot be encoded as JSON.
 *
 * Note: this is WxToken\InvalidArgumentException, a WxTokenException (and so a
 * \RuntimeException), not PHP's \InvalidArgumentException.
 */
class InvalidArgumentException extends WxTokenException
{
    public const STATUS = 10;
    public const KIND = 'invalid_argument';
}
