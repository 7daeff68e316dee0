<?php

declare(strict_types=1);

namespace WxToken;

use FFI;

/**
 * wxtoken's log records (docs/logging.md) in PHP. PHP code must never run on a thread of
 * the library's (the engine would crash), so the library keeps records in a bounded queue
 * (wxtoken_set_log_queue) and this class drains it on PHP's own thread: after configure(),
 * invalidate(), status() and every failure, at the end of the request (a shutdown
 * function), or when WxToken::drainLog() is called. Each record goes to the logger set
 * with WxToken::setLogger(), a PSR-3-shaped callable
 * `function (string $level, string $message, array $context): void` (a
 * Psr\Log\LoggerInterface's [$logger, 'log'] is one), or by default to error_log() at
 * 'warning' and above. Conversions only: records, levels and fields are the library's.
 */
final class Log
{
    /** PSR-3 level name -> the library's level (0 off .. 4 debug). */
    private const LEVELS = [
        'off' => 0,
        'emergency' => 1, 'alert' => 1, 'critical' => 1, 'error' => 1,
        'warning' => 2, 'notice' => 2,
        'info' => 3,
        'debug' => 4,
    ];

    /** The library's level name -> PSR-3's. */
    private const PSR = ['error' => 'error', 'warn' => 'warning', 'info' => 'info', 'debug' => 'debug'];

    private const BUFFER = 16384;
    private const OK = 0;
    private const BUFFER_TOO_SMALL = 13;

    /** @var (callable(string, string, array<string, mixed>): void)|null null: error_log() */
    private static $logger = null;
    private static string $level = 'warning';
    /** The FFI the queue was set up through in this request (null: not yet). */
    private static ?FFI $ffi = null;

    /** Sets the queue up once per request (per process in the CLI) and drains it at its end. */
    public static function install(FFI $ffi): void
    {
        if (self::$ffi !== null) {
            return;
        }
        self::$ffi = $ffi;
        $ffi->wxtoken_set_log_queue(self::LEVELS[self::$level]);
        register_shutdown_function(static function (): void {
            self::drain();
        });
    }

    /**
     * @param (callable(string, string, array<string, mixed>): void)|null $logger
     * @throws InvalidArgumentException for a level that is no PSR-3 level nor 'off'
     */
    public static function setLogger(FFI $ffi, ?callable $logger, string $level): void
    {
        if (!isset(self::LEVELS[$level])) {
            throw new InvalidArgumentException("unknown log level '{$level}': a PSR-3 level (error, warning, info, debug...) or 'off'");
        }
        self::install($ffi);
        self::drain(); // what was queued goes to the logger it was queued for
        self::$logger = $logger;
        self::$level = $level;
        $ffi->wxtoken_set_log_queue(self::LEVELS[$level]);
    }

    /** Forwards every queued record to the logger; returns how many. */
    public static function drain(): int
    {
        $ffi = self::$ffi;
        if ($ffi === null) {
            return 0;
        }
        $n = 0;
        $cap = self::BUFFER;
        $buf = $ffi->new("char[{$cap}]");
        $len = $ffi->new('size_t');
        // Bounded: the queue holds at most 1024 records, and records keep coming.
        for ($round = 0; $round < 64; $round++) {
            $status = $ffi->wxtoken_log_drain($buf, $cap, FFI::addr($len));
            if ($status === self::BUFFER_TOO_SMALL) {
                $cap = $len->cdata + 1;
                $buf = $ffi->new("char[{$cap}]");
                continue;
            }
            if ($status !== self::OK || $len->cdata === 0) {
                break;
            }
            foreach (explode("\n", rtrim(FFI::string($buf, $len->cdata), "\n")) as $line) {
                $record = json_decode($line, true);
                if (is_array($record)) {
                    self::forward($record);
                    $n++;
                }
            }
        }
        return $n;
    }

    /** @param array<string, mixed> $record */
    private static function forward(array $record): void
    {
        $level = self::PSR[$record['level'] ?? ''] ?? 'error';
        $message = (string) ($record['message'] ?? '');
        $context = $record;
        unset($context['message'], $context['level']);
        if (self::$logger !== null) {
            try {
                (self::$logger)($level, $message, $context);
                return;
            } catch (\Throwable $e) {
                // A logger's failure must not replace the caller's result or exception.
                error_log('wxtoken: the logger threw ' . $e::class . '; the record follows');
            }
        }
        $fields = $context;
        unset($fields['ts'], $fields['ts_ms'], $fields['event'], $fields['app'], $fields['pid']);
        error_log(sprintf(
            'wxtoken %s %s%s: %s%s',
            strtoupper($level),
            (string) ($record['event'] ?? ''),
            ($record['app'] ?? '') !== '' ? ' ' . $record['app'] : '',
            $message,
            $fields === [] ? '' : ' ' . json_encode($fields, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE),
        ));
    }
}
