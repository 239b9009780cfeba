<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Internal;

/**
 * Typed reads from decoded JSON, for the value objects' fromArray(). A field of the wrong type
 * throws \UnexpectedValueException, which the client reports as an unexpected response body.
 *
 * @internal
 */
final class Data
{
    private function __construct()
    {
    }

    /** @param array<mixed> $data */
    public static function str(array $data, string $key): string
    {
        $value = $data[$key] ?? null;
        if (!is_string($value)) {
            throw new \UnexpectedValueException("field '{$key}' must be a string");
        }
        return $value;
    }

    /** @param array<mixed> $data */
    public static function optStr(array $data, string $key): ?string
    {
        $value = $data[$key] ?? null;
        if ($value !== null && !is_string($value)) {
            throw new \UnexpectedValueException("field '{$key}' must be a string or null");
        }
        return $value;
    }

    /** @param array<mixed> $data */
    public static function optInt(array $data, string $key): ?int
    {
        $value = $data[$key] ?? null;
        if ($value !== null && !is_int($value)) {
            throw new \UnexpectedValueException("field '{$key}' must be an integer or null");
        }
        return $value;
    }

    /** @param array<mixed> $data */
    public static function optFloat(array $data, string $key): ?float
    {
        $value = $data[$key] ?? null;
        if ($value !== null && !is_int($value) && !is_float($value)) {
            throw new \UnexpectedValueException("field '{$key}' must be a number or null");
        }
        return $value === null ? null : (float) $value;
    }

    /** @param array<mixed> $data */
    public static function optBool(array $data, string $key): ?bool
    {
        $value = $data[$key] ?? null;
        if ($value !== null && !is_bool($value)) {
            throw new \UnexpectedValueException("field '{$key}' must be a boolean or null");
        }
        return $value;
    }

    /**
     * A JSON object (or null, read as empty).
     *
     * @param array<mixed> $data
     * @return array<mixed>
     */
    public static function map(array $data, string $key): array
    {
        $value = $data[$key] ?? null;
        if ($value !== null && !is_array($value)) {
            throw new \UnexpectedValueException("field '{$key}' must be an object or null");
        }
        return $value ?? [];
    }

    /**
     * A JSON array (or null, read as empty).
     *
     * @param array<mixed> $data
     * @return list<mixed>
     */
    public static function list(array $data, string $key): array
    {
        $value = $data[$key] ?? null;
        if ($value !== null && (!is_array($value) || !array_is_list($value))) {
            throw new \UnexpectedValueException("field '{$key}' must be an array or null");
        }
        return $value ?? [];
    }

    /**
     * @param array<mixed> $data
     * @return list<string>
     */
    public static function strings(array $data, string $key): array
    {
        $items = self::list($data, $key);
        foreach ($items as $item) {
            if (!is_string($item)) {
                throw new \UnexpectedValueException("field '{$key}' must be an array of strings");
            }
        }
        return $items;
    }

    /**
     * Build one object per element of a JSON array.
     *
     * @template T
     * @param array<mixed> $data
     * @param callable(array<mixed>): T $make
     * @return list<T>
     */
    public static function objects(array $data, string $key, callable $make): array
    {
        $objects = [];
        foreach (self::list($data, $key) as $item) {
            if (!is_array($item)) {
                throw new \UnexpectedValueException("field '{$key}' must be an array of objects");
            }
            $objects[] = $make($item);
        }
        return $objects;
    }

    /** @param array<mixed> $data */
    public static function optDate(array $data, string $key): ?\DateTimeImmutable
    {
        $value = self::optStr($data, $key);
        if ($value === null) {
            return null;
        }
        try {
            return (new \DateTimeImmutable($value))->setTimezone(new \DateTimeZone('UTC'));
        } catch (\Exception) {
            throw new \UnexpectedValueException("field '{$key}' must be an ISO 8601 date-time");
        }
    }

    /** @param array<mixed> $data */
    public static function day(array $data, string $key): \DateTimeImmutable
    {
        $value = self::str($data, $key);
        $day = \DateTimeImmutable::createFromFormat('!Y-m-d', $value, new \DateTimeZone('UTC'));
        if ($day === false) {
            throw new \UnexpectedValueException("field '{$key}' must be a date (YYYY-MM-DD)");
        }
        return $day;
    }
}
