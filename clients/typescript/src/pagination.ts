/**
 * Cursor pagination (`has_more` + `next_cursor`). A {@link Page} holds one page; iterating it
 * with `for await` yields every item of every later page, fetching each only when needed.
 */

export class Page<T> implements AsyncIterable<T> {
  /** This page's items. */
  readonly data: T[];
  readonly hasMore: boolean;
  readonly nextCursor: string | null;
  /** The cursor this page was fetched with (`null` for the first page). */
  readonly cursor: string | null;
  private readonly fetchPage: (cursor: string) => Promise<Page<T>>;

  constructor(init: {
    data: T[];
    hasMore: boolean;
    nextCursor: string | null;
    cursor: string | null;
    fetchPage: (cursor: string) => Promise<Page<T>>;
  }) {
    this.data = init.data;
    this.hasMore = init.hasMore;
    this.nextCursor = init.nextCursor;
    this.cursor = init.cursor;
    this.fetchPage = init.fetchPage;
  }

  hasNextPage(): boolean {
    // A cursor that does not move would loop forever: treat it as the end.
    return Boolean(this.hasMore && this.nextCursor && this.nextCursor !== this.cursor);
  }

  async getNextPage(): Promise<Page<T>> {
    if (!this.hasNextPage() || this.nextCursor === null) {
      throw new Error("no more pages; check hasNextPage() first");
    }
    return this.fetchPage(this.nextCursor);
  }

  /** This page, then each later page. */
  async *iterPages(): AsyncGenerator<Page<T>> {
    let page: Page<T> = this;
    for (;;) {
      yield page;
      if (!page.hasNextPage()) return;
      page = await page.getNextPage();
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for await (const page of this.iterPages()) yield* page.data;
  }
}

/**
 * What list methods return: await it for the first {@link Page}, or `for await` it directly
 * for every item across pages. The first request is sent when you first do either.
 */
export class PagePromise<T> implements PromiseLike<Page<T>>, AsyncIterable<T> {
  private promise: Promise<Page<T>> | null = null;

  constructor(private readonly load: () => Promise<Page<T>>) {}

  private first(): Promise<Page<T>> {
    this.promise ??= this.load();
    return this.promise;
  }

  then<R1 = Page<T>, R2 = never>(
    onfulfilled?: ((value: Page<T>) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.first().then(onfulfilled, onrejected);
  }

  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<Page<T> | R> {
    return this.first().catch(onrejected);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    yield* await this.first();
  }
}
