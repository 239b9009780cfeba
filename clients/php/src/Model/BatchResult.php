<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Model;

use Freepik\AiOrchestrator\Internal\Data;

/**
 * What generateBatch() returns: one BatchItem per prompt, in order. Iterate, count and index it
 * like a list; the batch-level figures are properties.
 *
 * @implements \IteratorAggregate<int, BatchItem>
 * @implements \ArrayAccess<int, BatchItem>
 */
final class BatchResult implements \IteratorAggregate, \Countable, \ArrayAccess
{
    /**
     * @param list<BatchItem> $items
     * @param float|null $totalCost null when any successful item's price is unknown
     */
    public function __construct(
        public readonly string $id,
        public readonly array $items,
        public readonly int $succeeded,
        public readonly int $failed,
        public readonly ?float $totalCost = null,
        public readonly ?string $requestId = null,
    ) {
    }

    /** @param array<mixed> $data */
    public static function fromArray(array $data, ?string $requestId = null): self
    {
        return new self(
            id: Data::str($data, 'id'),
            items: Data::objects($data, 'data', BatchItem::fromArray(...)),
            succeeded: Data::optInt($data, 'succeeded') ?? 0,
            failed: Data::optInt($data, 'failed') ?? 0,
            totalCost: Data::optFloat($data, 'total_cost'),
            requestId: $requestId,
        );
    }

    /** @return list<GenerationResponse> the successful generations, in prompt order */
    public function generations(): array
    {
        $generations = [];
        foreach ($this->items as $item) {
            if ($item->ok() && $item->generation !== null) {
                $generations[] = $item->generation;
            }
        }
        return $generations;
    }

    /** @return list<BatchItem> the items that failed */
    public function errors(): array
    {
        return array_values(array_filter($this->items, static fn (BatchItem $item): bool => !$item->ok()));
    }

    /** @return \ArrayIterator<int, BatchItem> */
    public function getIterator(): \ArrayIterator
    {
        return new \ArrayIterator($this->items);
    }

    public function count(): int
    {
        return count($this->items);
    }

    public function offsetExists(mixed $offset): bool
    {
        return is_int($offset) && isset($this->items[$offset]);
    }

    public function offsetGet(mixed $offset): BatchItem
    {
        if (!is_int($offset) || !isset($this->items[$offset])) {
            throw new \OutOfRangeException('no batch item at index ' . var_export($offset, true));
        }
        return $this->items[$offset];
    }

    public function offsetSet(mixed $offset, mixed $value): void
    {
        throw new \LogicException('a BatchResult is read-only');
    }

    public function offsetUnset(mixed $offset): void
    {
        throw new \LogicException('a BatchResult is read-only');
    }
}
