<?php

declare(strict_types=1);

namespace WxToken;

/**
 * WXTOKEN_STORE: the shared store (file, redis) could not be read, written or locked.
 */
class StoreException extends WxTokenException
{
    public const STATUS = 8;
    public const KIND = 'store';
}
