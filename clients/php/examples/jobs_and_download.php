<?php

declare(strict_types=1);

// Beyond the client reference: submit a job, follow its events, wait for it, download its images.
// Usage: php jobs_and_download.php [directory]

// With Composer: require "vendor/autoload.php". From this repository: the bundled autoloader.
require __DIR__ . "/../autoload.php";

use Freepik\AiOrchestrator\OrchestrationClient;

$client = new OrchestrationClient(
    baseUrl: getenv('ORCHESTRATOR_BASE_URL') ?: 'http://localhost:8000',
    apiKey: getenv('ORCHESTRATOR_API_KEY') ?: 'your-api-key',
);

$job = $client->submit(prompt: 'A lighthouse in a storm', model: 'dall-e-3', size: '1792x1024');
echo "submitted {$job->id}: {$job->status->value}\n";

foreach ($client->streamEvents($job->id) as $event) {
    echo "  {$event->event}: progress {$event->data->progress}\n";
}
$done = $client->waitFor($job->id);
echo "{$done->status->value}: progress {$done->progress}\n";

$directory = $argv[1] ?? sys_get_temp_dir() . '/orchestrator-examples';
foreach ($client->download($done, $directory, overwrite: true) as $path) {
    echo "saved {$path} (", filesize($path), " bytes)\n";
}
