// A deployment script written with the AWS SDK for Go v2, run against ecs-facade's ECS API by
// tests/e2e/test_ecs_api_sdk_go.py: nothing here knows it is not talking to Amazon ECS.
//
//	sdk-go -endpoint URL up     register task definitions, create a service and wait until it
//	                            is stable, run a task with overrides and wait until it stops
//	sdk-go -endpoint URL down   the errors a script catches, then delete everything
//
// Credentials and the region come from the environment (AWS_ACCESS_KEY_ID, AWS_REGION, ...).
// Each result is one line "KEY value ..." on stdout, which the test reads.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

const (
	cluster = "default"
	service = "go-web"
	web     = "go-sdk-web"
	job     = "go-sdk-job"
)

func main() {
	endpoint := flag.String("endpoint", "", "the ECS API's URL")
	flag.Parse()
	if *endpoint == "" || flag.NArg() != 1 {
		fail(errors.New("usage: sdk-go -endpoint URL up|down"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(1))
	if err != nil {
		fail(err)
	}
	client := ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(*endpoint) })
	switch flag.Arg(0) {
	case "up":
		up(ctx, client)
	case "down":
		down(ctx, client)
	default:
		fail(fmt.Errorf("unknown step %q", flag.Arg(0)))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sdk-go:", err)
	os.Exit(1)
}

func up(ctx context.Context, client *ecs.Client) {
	registered, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(web),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:         aws.String("web"),
			Image:        aws.String("public.ecr.aws/nginx/nginx:1.27"),
			Memory:       aws.Int32(128),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(80), Protocol: types.TransportProtocolTcp}},
		}},
	})
	if err != nil {
		fail(err)
	}
	fmt.Printf("REGISTERED %s:%d\n", *registered.TaskDefinition.Family, registered.TaskDefinition.Revision)

	_, err = client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(job),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:    aws.String("job"),
			Image:   aws.String("example/job:1"),
			Memory:  aws.Int32(64),
			Command: []string{"run"},
			// kwok ends the simulated container with this code (the local control plane's nodes)
			DockerLabels: map[string]string{
				"ecs.facade.dev/simulate-exit-code":     "5",
				"ecs.facade.dev/simulate-exit-after-ms": "1500",
			},
		}},
	})
	if err != nil {
		fail(err)
	}

	created, err := client.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster:        aws.String(cluster),
		ServiceName:    aws.String(service),
		TaskDefinition: aws.String(web),
		DesiredCount:   aws.Int32(2),
	})
	if err != nil {
		fail(err)
	}
	fmt.Printf("CREATED %s\n", *created.Service.ServiceArn)

	stable := ecs.NewServicesStableWaiter(client, func(o *ecs.ServicesStableWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 3*time.Second
	})
	described, err := stable.WaitForOutput(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String(cluster), Services: []string{service},
	}, 3*time.Minute)
	if err != nil {
		fail(fmt.Errorf("services stable: %w", err))
	}
	s := described.Services[0]
	fmt.Printf("STABLE %s running=%d desired=%d deployments=%d\n", *s.ServiceName, s.RunningCount, s.DesiredCount, len(s.Deployments))

	ran, err := client.RunTask(ctx, &ecs.RunTaskInput{
		Cluster:        aws.String(cluster),
		TaskDefinition: aws.String(job),
		StartedBy:      aws.String("sdk-go"),
		Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{
			Name:        aws.String("job"),
			Command:     []string{"run", "--from-go"},
			Environment: []types.KeyValuePair{{Name: aws.String("FROM"), Value: aws.String("go-sdk")}},
		}}},
	})
	if err != nil {
		fail(err)
	}
	if len(ran.Failures) > 0 || len(ran.Tasks) != 1 {
		fail(fmt.Errorf("run task: %d tasks, failures %v", len(ran.Tasks), ran.Failures))
	}
	taskArn := *ran.Tasks[0].TaskArn
	fmt.Printf("RAN %s\n", taskArn)

	stopped := ecs.NewTasksStoppedWaiter(client, func(o *ecs.TasksStoppedWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 3*time.Second
	})
	tasks, err := stopped.WaitForOutput(ctx, &ecs.DescribeTasksInput{
		Cluster: aws.String(cluster), Tasks: []string{taskArn},
	}, 2*time.Minute)
	if err != nil {
		fail(fmt.Errorf("tasks stopped: %w", err))
	}
	t := tasks.Tasks[0]
	code := "none"
	if t.Containers[0].ExitCode != nil {
		code = fmt.Sprint(*t.Containers[0].ExitCode)
	}
	fmt.Printf("STOPPED %s stopCode=%s exitCode=%s\n", *t.LastStatus, t.StopCode, code)
}

func down(ctx context.Context, client *ecs.Client) {
	// the typed exceptions of the ECS model, as a script catches them
	_, err := client.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String("no-such-cluster"), Services: []string{service},
	})
	var notFound *types.ClusterNotFoundException
	if !errors.As(err, &notFound) {
		fail(fmt.Errorf("expected a ClusterNotFoundException, got %v", err))
	}
	fmt.Printf("CAUGHT %s\n", notFound.ErrorCode())

	_, err = client.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String(cluster), Service: aws.String("no-such-service"), DesiredCount: aws.Int32(1),
	})
	var noService *types.ServiceNotFoundException
	if !errors.As(err, &noService) {
		fail(fmt.Errorf("expected a ServiceNotFoundException, got %v", err))
	}
	fmt.Printf("CAUGHT %s\n", noService.ErrorCode())

	deleted, err := client.DeleteService(ctx, &ecs.DeleteServiceInput{
		Cluster: aws.String(cluster), Service: aws.String(service), Force: aws.Bool(true),
	})
	if err != nil {
		fail(err)
	}
	fmt.Printf("DELETED %s\n", *deleted.Service.ServiceName)
	for _, family := range []string{web, job} {
		out, err := client.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{
			TaskDefinition: aws.String(family + ":1"),
		})
		if err != nil {
			fail(err)
		}
		fmt.Printf("DEREGISTERED %s:%d %s\n", *out.TaskDefinition.Family, out.TaskDefinition.Revision, out.TaskDefinition.Status)
	}
}
