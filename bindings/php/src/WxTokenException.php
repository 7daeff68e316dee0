<?php

declare(strict_types=1);

namespace WxToken;

/**
 * Every failure of wxtoken. Catch this to handle them all; catch a subclass to handle one
 * kind (the subclasses map one to one to the C library's `wxtoken_status` values).
 *
 * - getErrcode(): WeChat's errcode when the platform answered one (40125, 45009, -1...),
 *   else 0. getCode() returns the same number.
 * - getKind(): the snake_case kind, the same string Python's `WxTokenError.kind` and the
 *   library's status JSON use (`credentials_rejected`, `timeout`, ...).
 * - getStatus(): the C library's `wxtoken_status` value (WXTOKEN_TIMEOUT = 6, ...);
 *   -1 for LoadException, which does not come from the library.
 *
 * The message is the library's own (wxtoken_last_error); it never contains the secret.
 */
class WxTokenException extends \RuntimeException
{
    /** The `wxtoken_status` this class stands for. */
    public const STATUS = -1;
    /** The kind name this class stands for. */
    public const KIND = 'error';

    private int $errcode;
    private int $status;
    private string $kind;

    public function __construct(
        string $message = '',
        int $errcode = 0,
        ?int $status = null,
        ?string $kind = null,
        ?\Throwable $previous = null,
    ) {
        parent::__construct($message, $errcode, $previous);
        $this->errcode = $errcode;
        $this->status = $status ?? static::STATUS;
        $this->kind = $kind ?? static::KIND;
    }

    /** WeChat's errcode behind this failure, 0 when it did not come from the platform. */
    public function getErrcode(): int
    {
        return $this->errcode;
    }

    /** `credentials_rejected`, `ip_not_allowed`, ..., `invalid_argument`, `internal`, `load`. */
    public function getKind(): string
    {
        return $this->kind;
    }

    /** The C library's `wxtoken_status` value (-1: not from the library). */
    public function getStatus(): int
    {
        return $this->status;
    }
}
