<?php

declare(strict_types=1);

namespace WxToken;

/**
 * WXTOKEN_BAD_RESPONSE: the platform answered something that is not a token response.
 */
class BadResponseException extends WxTokenException
{
    public const STATUS = 7;
    public const KIND = 'bad_response';
}
