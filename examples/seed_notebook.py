"""The seed notebook's code cells, in order, with only the import lines changed.

Top-level ``await`` (a notebook feature) is wrapped in ``asyncio.run``. Run it with
``python examples/seed_notebook.py``; ``tests/e2e/test_seed_notebook.py`` compares its
output with the notebook's.
"""


import asyncio
import json
from datetime import datetime
from typing import List, Dict, Any

from flowpoint import Workflow, StartEvent, StopEvent, step, Event
from flowpoint.checkpointer import WorkflowCheckpointer
from flowpoint.context import Context

print("‚úÖ All imports successful!")
print(f"üìÖ Current time: {datetime.now().strftime('%Y-%m-%d %H:%M:%S')}")


# Define events for simple chat demo
class UserMessageEvent(Event):
    user_message: str
    session_id: str
    message_count: int = 0

class BotResponseEvent(Event):
    user_message: str
    bot_response: str
    session_id: str
    conversation_history: List[Dict] = []

print("üìã Event classes defined for simple chat demo")


# Create simple chat workflow using class-based approach
class SimpleChatWorkflow(Workflow):
    def __init__(self):
        super().__init__(timeout=60, verbose=True)
    
    @step
    async def process_user_message(self, ev: StartEvent, ctx: Context) -> UserMessageEvent:
        """Step 1: Process user message and load conversation history"""
        print("\nüîÑ STEP 1: Processing user message...")
        print(f"üì• Input data: {ev.input_data}")
        
        # Load conversation history from context
        conversation_history = await ctx.get("conversation_history", [])
        print(f"üìö Loaded {len(conversation_history)} previous messages from context")
        
        user_message = ev.input_data.get("user_message", "Hello!")
        session_id = ev.input_data.get("session_id", "demo_session")
        
        result = UserMessageEvent(
            user_message=user_message,
            session_id=session_id,
            message_count=len(conversation_history) + 1
        )
        
        print(f"‚úÖ User message processed")
        print(f"üì§ Output: {result}")
        
        return result
    
    @step
    async def generate_bot_response(self, ev: UserMessageEvent, ctx: Context) -> StopEvent:
        """Step 2: Generate bot response and update conversation history"""
        print("\nüîÑ STEP 2: Generating bot response...")
        print(f"üì• Input: {ev.user_message} (message #{ev.message_count})")
        
        # Get conversation history from context
        conversation_history = await ctx.get("conversation_history", [])
        print(f"üìö Processing with {len(conversation_history)} previous messages in context")
        
        # Generate context-aware response
        if ev.message_count == 1:
            bot_response = "Hello! This is our first conversation! How can I help you today?"
        elif ev.message_count == 2:
            bot_response = "Nice to see you again! What would you like to know about?"
        else:
            bot_response = f"Thanks for message #{ev.message_count}! I'm here to help with any questions you have."
        
        # Add new message to conversation history
        new_message = {
            "user_message": ev.user_message,
            "bot_response": bot_response,
            "timestamp": datetime.now().isoformat(),
            "message_number": ev.message_count
        }
        
        # Update conversation history in context
        updated_history = conversation_history + [new_message]
        await ctx.set("conversation_history", updated_history)
        
        print(f"üíæ Updated context with {len(updated_history)} total messages")
        print(f"ü§ñ Bot response: {bot_response}")
        
        result = StopEvent(result={
            "session_id": ev.session_id,
            "user_message": ev.user_message,
            "bot_response": bot_response,
            "conversation_history": updated_history,
            "message_count": ev.message_count,
            "completed_at": datetime.now().isoformat()
        })
        
        print(f"‚úÖ Bot response generated")
        print(f"üì§ Output: {result.result}")
        
        return result

# Create workflow instance
chat_workflow = SimpleChatWorkflow()
print("üîß Simple chat workflow created with 2 steps")


# Demonstrate context snapshot extraction from a single workflow run
async def extract_context_snapshot():
    global checkpointer  # Make checkpointer global so it can be accessed in other cells
    print("\n" + "="*60)
    print("üöÄ CONTEXT SNAPSHOT EXTRACTION")
    print("="*60)
    
    # Create checkpointer
    checkpointer = WorkflowCheckpointer(workflow=chat_workflow)
    
    print("\nüìã Running a single workflow instance...")
    print("üéØ We will extract the context snapshot after the workflow completes")
    print(f"üîß Checkpointer created for workflow: {type(chat_workflow).__name__}")
    print(f"üìä Initial checkpoints: {len(checkpointer.checkpoints)}")
    
    # Run workflow with a single message
    handler = checkpointer.run(input_data={
        "user_message": "Hello! Can you help me with Python?",
        "session_id": "demo_session_123"
    })
    
    print("\n‚è≥ Waiting for workflow to complete...")
    result = await handler
    
    print("\nüéâ Workflow completed!")
    print(f"üìä Workflow result: {result}")
    
    # Check if checkpoints were created
    print("\nüìä Checking checkpoints...")
    print(f"üìã Total checkpoints: {len(checkpointer.checkpoints)}")
    for session_id, checkpoints in checkpointer.checkpoints.items():
        print(f"  Session: {session_id}")
        print(f"  Number of checkpoints: {len(checkpoints)}")
        for i, checkpoint in enumerate(checkpoints):
            print(f"    Checkpoint {i+1}: {checkpoint.last_completed_step}")
    
    # Extract context snapshot
    print("\nüíæ Extracting context snapshot...")
    context_snapshot = handler.ctx.to_dict()
    
    print(f"‚úÖ Context snapshot extracted with {len(context_snapshot)} keys")
    print(f"üîë Top-level keys: {list(context_snapshot.keys())}")
    
    # Show conversation history from context
    conversation_history = []
    if "state" in context_snapshot and "state_data" in context_snapshot["state"]:
        state_data = context_snapshot["state"]["state_data"]
        if "_data" in state_data and "conversation_history" in state_data["_data"]:
            # The conversation_history might be stored as a JSON string, so we need to parse it
            raw_history = state_data["_data"]["conversation_history"]
            if isinstance(raw_history, str):
                try:
                    conversation_history = json.loads(raw_history)
                except json.JSONDecodeError:
                    conversation_history = []
            else:
                conversation_history = raw_history
    
    print(f"\nüìö Conversation history from context ({len(conversation_history)} messages):")
    if conversation_history:
        for i, msg in enumerate(conversation_history, 1):
            print(f"  {i}. User: {msg['user_message']}")
            print(f"     Bot: {msg['bot_response']}")
            print(f"     Time: {msg['timestamp']}")
            print()
    else:
        print("  No conversation history found in context")
    
    # Show context structure
    print("\nüîç Context Snapshot Structure:")
    print(f"  State type: {context_snapshot.get('state', {}).get('state_type', 'Unknown')}")
    print(f"  Queues: {list(context_snapshot.get('queues', {}).keys())}")
    print(f"  Accepted events: {context_snapshot.get('accepted_events', [])}")
    print(f"  Broker log entries: {len(context_snapshot.get('broker_log', []))}")
    
    return context_snapshot

# Run the demonstration
context_snapshot = asyncio.run(extract_context_snapshot())


# Resume workflow from the second checkpoint
async def resume_from_checkpoint():
    print("\n" + "="*60)
    print("üîÑ RESUMING FROM CHECKPOINT")
    print("="*60)
    
    # Use the same checkpointer from the previous run
    print("\nüìã Resuming workflow from the second checkpoint...")
    print("üéØ We will resume from the 'generate_bot_response' step")
    
    # Get the checkpoints from the previous run
    if not checkpointer.checkpoints:
        print("‚ùå No checkpoints found! Run the first cell first.")
        return
    
    # Get the session ID and checkpoints
    session_id = list(checkpointer.checkpoints.keys())[0]
    checkpoints = checkpointer.checkpoints[session_id]
    
    print(f"üìä Found {len(checkpoints)} checkpoints for session: {session_id}")
    
    # Show available checkpoints
    for i, checkpoint in enumerate(checkpoints):
        print(f"  Checkpoint {i+1}: {checkpoint.last_completed_step}")
    
    # Resume from the second checkpoint (index 1)
    if len(checkpoints) >= 2:
        second_checkpoint = checkpoints[1]  # Second checkpoint
        print(f"\nüîÑ Resuming from checkpoint: {second_checkpoint}")
        
        # Resume the workflow from the checkpoint
        resumed_handler = checkpointer.run_from(checkpoint=second_checkpoint)
        
        print("\n‚è≥ Waiting for resumed workflow to complete...")
        result = await resumed_handler
        
        print("\nüéâ Resumed workflow completed!")
        print(f"üìä Resumed workflow result: {result}")
        
        # Show final checkpoints after resume
        print(f"\nüìä Final checkpoints after resume: {len(checkpointer.checkpoints[session_id])}")
        
    else:
        print("‚ùå Not enough checkpoints to resume from the second one")

# Run the resume demonstration
asyncio.run(resume_from_checkpoint())


# Demonstrate modifying checkpoint event data
class NumberEvent(Event):
    number: int
    step_name: str

class ResultEvent(Event):
    original_number: int
    added_number: int
    final_result: int
    step_name: str

class NumberWorkflow(Workflow):
    def __init__(self):
        super().__init__(timeout=60, verbose=True)
    
    @step
    async def first_step(self, ev: StartEvent, ctx: Context) -> NumberEvent:
        """Step 1: Get initial number from input"""
        print("\nüîÑ STEP 1: Getting initial number...")
        initial_number = ev.input_data.get("number", 5)
        print(f"üì• Initial number: {initial_number}")
        
        result = NumberEvent(
            number=initial_number,
            step_name="first_step"
        )
        print(f"‚úÖ First step completed with number: {result.number}")
        return result
    
    @step
    async def second_step(self, ev: NumberEvent, ctx: Context) -> StopEvent:
        """Step 2: Add 10 to the number"""
        print("\nüîÑ STEP 2: Adding 10 to the number...")
        print(f"üì• Input number: {ev.number}")
        
        added_number = 10
        final_result = ev.number + added_number
        
        print(f"‚ûï Adding {added_number} to {ev.number}")
        print(f"üéØ Final result: {final_result}")
        
        return StopEvent(result={
            "original_number": ev.number,
            "added_number": added_number,
            "final_result": final_result,
            "step_name": "second_step"
        })

# Create the number workflow
number_workflow = NumberWorkflow()
print("üîß Number workflow created with 2 steps")

# Demonstrate checkpoint modification
async def demonstrate_checkpoint_modification():
    print("\n" + "="*60)
    print("üîß CHECKPOINT EVENT MODIFICATION DEMO")
    print("="*60)
    
    # Create checkpointer
    checkpointer = WorkflowCheckpointer(workflow=number_workflow)
    
    print("\nüìã Running workflow with initial number 5...")
    handler = checkpointer.run(input_data={"number": 5})
    result = await handler
    
    print(f"\nüéâ First run completed!")
    print(f"üìä Result: {result}")
    
    # Get checkpoints
    session_id = list(checkpointer.checkpoints.keys())[0]
    checkpoints = checkpointer.checkpoints[session_id]
    
    print(f"\nüìä Found {len(checkpoints)} checkpoints")
    for i, checkpoint in enumerate(checkpoints):
        print(f"  Checkpoint {i+1}: {checkpoint.last_completed_step}")
    
    # Show original checkpoint data
    if len(checkpoints) >= 2:
        first_checkpoint = checkpoints[0]  # First checkpoint (first_step)
        second_checkpoint = checkpoints[1]  # Second checkpoint (second_step)
        print(f"  Checkpoint 1: {first_checkpoint}")
        print(f"\nüîç Original checkpoint data:")
        print(f"  Checkpoint 1 - Last completed step: {first_checkpoint.last_completed_step}")
        print(f"  Checkpoint 1 - Output event: {first_checkpoint.output_event}")
        print(f"  Checkpoint 2 - Last completed step: {second_checkpoint.last_completed_step}")
        print(f"  Checkpoint 2 - Input event: {second_checkpoint.input_event}")
        
        # MODIFY THE CORRECT CHECKPOINT EVENT DATA
        print(f"\n‚úèÔ∏è MODIFYING CHECKPOINT EVENT DATA...")
        print(f"  Original number in first checkpoint output: {first_checkpoint.output_event.number}")
        
        # Change the number from 5 to 20 in the FIRST checkpoint's output event
        # This is the NumberEvent that gets passed to the second step
        first_checkpoint.output_event.number = 20
        print(f"  Modified number in first checkpoint output: {first_checkpoint.output_event.number}")
        
        # Resume from the FIRST checkpoint (so it re-runs the second step with modified data)
        print(f"\nüîÑ Resuming from first checkpoint...")
        print(f"  Resuming from step: {first_checkpoint.last_completed_step}")
        print(f"  Using modified number: {first_checkpoint.output_event.number}")
        print(f"  This will re-run the second step with the modified number!")
        
        resumed_handler = checkpointer.run_from(checkpoint=first_checkpoint)
        modified_result = await resumed_handler
        
        print(f"\nüéâ Resumed workflow completed!")
        print(f"üìä Modified result: {modified_result}")
        
        # Compare results
        print(f"\nüìä COMPARISON:")
        print(f"  Original run result: {result}")
        print(f"  Modified run result: {modified_result}")
        print(f"  ‚úÖ The result changed because we modified the input event data!")
        
    else:
        print("‚ùå Not enough checkpoints to demonstrate modification")

# Run the demonstration
asyncio.run(demonstrate_checkpoint_modification())

