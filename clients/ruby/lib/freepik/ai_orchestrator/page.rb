# frozen_string_literal: true

module Freepik
  module AiOrchestrator
    # One page of a cursor-paged list (has_more + next_cursor).
    #
    # #data, #size and #[] are this page only. #each (and so every Enumerable method: map,
    # first, select, lazy...) yields every item of this page and of every following page,
    # fetching each page only when the previous one is used up; #each_page walks page by page.
    class Page
      include Enumerable

      attr_reader :data, :has_more, :next_cursor, :cursor, :request_id

      # +fetch+ is called with the next cursor and returns the next Page.
      def initialize(data:, has_more:, next_cursor:, cursor:, fetch:, request_id: nil)
        @data = data.dup.freeze
        @has_more = has_more ? true : false
        @next_cursor = next_cursor
        @cursor = cursor
        @fetch = fetch
        @request_id = request_id
        freeze
      end

      # True when another page follows. A cursor that does not move would loop forever, so it
      # counts as the end.
      def next_page?
        @has_more && !@next_cursor.nil? && !@next_cursor.empty? && @next_cursor != @cursor
      end

      def next_page
        raise StopIteration, "no more pages; check next_page? first" unless next_page?

        @fetch.call(@next_cursor)
      end

      def each_page
        return enum_for(:each_page) unless block_given?

        page = self
        yield page
        while page.next_page?
          page = page.next_page
          yield page
        end
        self
      end

      def each(&block)
        return enum_for(:each) unless block

        each_page { |page| page.data.each(&block) }
        self
      end

      def [](index)
        @data[index]
      end

      def size
        @data.size
      end
      alias length size

      def empty?
        @data.empty?
      end

      def inspect
        "#<#{self.class.name} items=#{size} has_more=#{has_more} next_cursor=#{next_cursor.inspect}>"
      end
    end
  end
end
