<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator;

/**
 * One page of a cursor-paged list (has_more + next_cursor).
 *
 * `$page->data` and count() are this page only; *iterating* the page yields every item of every
 * following page, fetching each page only when the previous one is used up. Use pages() to work
 * page by page.
 *
 * @template T
 * @implements \IteratorAggregate<int, T>
 */
final class Page implements \IteratorAggregate, \Countable
{
    /** @var \Closure(string): Page<T> */
    private readonly \Closure $fetch;

    /**
     * @param list<T> $data
     * @param string|null $cursor the cursor this page was fetched with (null for the first page)
     * @param \Closure(string): Page<T> $fetch fetches the page after a cursor
     */
    public function __construct(
        public readonly array $data,
        public readonly bool $hasMore,
        public readonly ?string $nextCursor,
        public readonly ?string $cursor,
        \Closure $fetch,
    ) {
        $this->fetch = $fetch;
    }

    public function hasNextPage(): bool
    {
        // A cursor that does not move would loop forever; treat it as the end.
        return $this->hasMore && $this->nextCursor !== null && $this->nextCursor !== '' && $this->nextCursor !== $this->cursor;
    }

    /** @return Page<T> */
    public function getNextPage(): Page
    {
        if (!$this->hasNextPage() || $this->nextCursor === null) {
            throw new \LogicException('no more pages; check hasNextPage() first');
        }
        return ($this->fetch)($this->nextCursor);
    }

    /** @return \Generator<int, Page<T>> this page, then each following page */
    public function pages(): \Generator
    {
        $page = $this;
        while (true) {
            yield $page;
            if (!$page->hasNextPage()) {
                return;
            }
            $page = $page->getNextPage();
        }
    }

    /** @return \Generator<int, T> every item of this and all later pages */
    public function getIterator(): \Generator
    {
        $position = 0;
        foreach ($this->pages() as $page) {
            foreach ($page->data as $item) {
                yield $position++ => $item;
            }
        }
    }

    public function count(): int
    {
        return count($this->data);
    }
}
