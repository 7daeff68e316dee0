<?php

declare(strict_types=1);

namespace WxToken;

/**
 * WXTOKEN_NETWORK: could not connect to the platform, or the connection broke.
 */
class NetworkException extends WxTokenException
{
    public const STATUS = 5;
    public const KIND = 'network';
}
