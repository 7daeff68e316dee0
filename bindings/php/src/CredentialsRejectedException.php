<?php

declare(strict_types=1);

namespace WxToken;

/**
 * WXTOKEN_CREDENTIALS_REJECTED: the platform refused the appid, secret or account
 * (40125 wrong secret, 40013 wrong appid, WeCom 40001...). Not retried: the library cools the
 * app down and answers this at once until the cool-down ends.
 */
class CredentialsRejectedException extends WxTokenException
{
    public const STATUS = 1;
    public const KIND = 'credentials_rejected';
}
