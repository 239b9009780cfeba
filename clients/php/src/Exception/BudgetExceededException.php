<?php

declare(strict_types=1);

namespace Freepik\AiOrchestrator\Exception;

/** The key's or project's budget is spent (402). */
class BudgetExceededException extends ApiStatusException
{
}
