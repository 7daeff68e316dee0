<?php

declare(strict_types=1);

namespace WxToken;

/**
 * The library or its header could not be loaded: ext-ffi missing or restricted by
 * ffi.enable, the shared library or wxtoken_ffi.h not found (the message names every path
 * tried), or the header rejected by PHP's FFI parser. getStatus() is -1.
 */
class LoadException extends WxTokenException
{
    public const STATUS = -1;
    public const KIND = 'load';
}
